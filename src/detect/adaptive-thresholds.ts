import { histogramBin, histogramEdges } from './histogram.js';
import type { DetectionReport } from './detection-report.js';
import { fitMixture2, posterior, type Mixture2 } from './gaussian-mixture.js';
import type { ChunkReader } from './likelihood-chunk.js';
import { scoreAt } from './sample-score.js';
import type { ClassCut, SplitThresholds } from './split-thresholds.js';

/** Options of the adaptive cut. */
export interface AdaptiveOptions {
  /** Histogram bins of the class's scores. Default 256. */
  bins?: number;
  /** A row is poisoned when P(poison component | s) >= this. Default 0.5. */
  poisonPosterior?: number;
  /** A row is clean when P(poison component | s) <= this. Default 0.05. */
  cleanPosterior?: number;
}

/** What the adaptive cut found for one class. */
export interface AdaptiveCut extends ClassCut {
  mixture: Mixture2;
  /** Rows with score <= (ND) or >= (D) this are poisoned. */
  poisonThreshold: number;
  /** Rows with score >= (ND) or <= (D) this are clean. */
  cleanThreshold: number;
}

/**
 * Adaptive cut points (an alternative to the fixed alpha fractions, for the benchmark):
 * per flagged class, a 256-bin histogram of its scores (two streaming passes: range, counts),
 * a 2-component Gaussian mixture fitted by EM on it (`fitMixture2`); the poison component is
 * the low-mean one for the ND-test and the high-mean one for the D-test (docs/method.md, step 6
 * directions). Walking the bin edges from the poison component's mean towards the clean
 * side, the poison threshold is the last edge with P(poison | s) >= `poisonPosterior`, the
 * clean threshold the first later edge with P(poison | s) <= `cleanPosterior`; rows beyond
 * the poison threshold (on the poison side, tails included) are poisoned, rows beyond the
 * clean threshold clean, the rest uncertain. A third pass counts the groups. Thresholds are score values (all rows with equal
 * scores go the same way), expressed as `ClassCut` keys so `splitRow` works unchanged.
 *
 * @example
 *   const t = await computeAdaptiveThresholds(read, report);
 *   splitRow(label, row, rowIndex, t);
 */
export async function computeAdaptiveThresholds(
  read: ChunkReader,
  report: DetectionReport,
  options: AdaptiveOptions = {},
): Promise<SplitThresholds & { classes: (AdaptiveCut | null)[] }> {
  const bins = options.bins ?? 256;
  const pPoison = options.poisonPosterior ?? 0.5;
  const pClean = options.cleanPosterior ?? 0.05;
  const { K } = report;
  const test = new Array<'D' | 'ND' | null>(K).fill(null);
  for (const f of report.flagged) test[f.label] = f.test;
  const min = new Float64Array(K).fill(Infinity);
  const max = new Float64Array(K).fill(-Infinity);
  const each = async (fn: (label: number, s: number) => void) => {
    for await (const { labels, L, n } of read()) {
      for (let i = 0; i < n; i++) if (test[labels[i]]) fn(labels[i], scoreAt(L, i * K, K, labels[i]));
    }
  };
  const classes: (AdaptiveCut | null)[] = new Array(K).fill(null);
  if (report.flagged.length === 0) return { K, clean: true, cutMode: 'adaptive', alphaClean: null, alphaPoisoned: null, classes };
  await each((c, s) => {
    if (s < min[c]) min[c] = s;
    if (s > max[c]) max[c] = s;
  });
  const edges: number[][] = [];
  const counts: Float64Array[] = [];
  for (let c = 0; c < K; c++) {
    edges.push(test[c] && min[c] <= max[c] ? histogramEdges(min[c], max[c], bins) : []);
    counts.push(new Float64Array(bins));
  }
  await each((c, s) => {
    counts[c][histogramBin(s, edges[c])] += 1;
  });
  const thresholds: { poison: number; clean: number; lowIsPoison: boolean }[] = [];
  for (let c = 0; c < K; c++) {
    const t = test[c];
    if (!t || edges[c].length === 0) continue;
    const mix = fitMixture2(edges[c], Array.from(counts[c]));
    const lowIsPoison = t === 'ND';
    const j: 0 | 1 = lowIsPoison ? 0 : 1;
    const e = lowIsPoison ? edges[c] : [...edges[c]].reverse();
    // walk from the poison component's mean towards the clean side
    let start = 0;
    while (start < e.length - 1 && (lowIsPoison ? e[start + 1] <= mix.means[j] : e[start + 1] >= mix.means[j])) start++;
    let k = start;
    while (k < e.length && posterior(mix, j, e[k]) >= pPoison) k++;
    // poisoned: from the poison end through e[k - 1]; none if the walk did not move
    const poison = k > start ? e[k - 1] : lowIsPoison ? -Infinity : Infinity;
    let q = k;
    while (q < e.length && posterior(mix, j, e[q]) > pClean) q++;
    // clean: from e[q] to the other end; none if the walk ran off the end
    const clean = q < e.length ? e[q] : lowIsPoison ? Infinity : -Infinity;
    thresholds[c] = { poison, clean, lowIsPoison };
    classes[c] = {
      label: c,
      test: t,
      n: report.classes[c].n,
      nClean: 0,
      nPoisoned: 0,
      lowLast: null,
      highFirst: null,
      mixture: mix,
      poisonThreshold: poison,
      cleanThreshold: clean,
    };
  }
  await each((c, s) => {
    const th = thresholds[c];
    const cut = classes[c];
    if (!th || !cut) return;
    if (th.lowIsPoison ? s <= th.poison : s >= th.poison) cut.nPoisoned += 1;
    else if (th.lowIsPoison ? s >= th.clean : s <= th.clean) cut.nClean += 1;
  });
  for (const cut of classes) {
    if (!cut) continue;
    const lowIsPoison = cut.test === 'ND';
    const lowValue = lowIsPoison ? cut.poisonThreshold : cut.cleanThreshold;
    const highValue = lowIsPoison ? cut.cleanThreshold : cut.poisonThreshold;
    // all rows with score <= lowValue, all rows with score >= highValue
    cut.lowLast = Number.isFinite(lowValue) ? { value: lowValue, rowIndex: Number.MAX_SAFE_INTEGER } : null;
    cut.highFirst = Number.isFinite(highValue) ? { value: highValue, rowIndex: -1 } : null;
  }
  return { K, clean: false, cutMode: 'adaptive', alphaClean: null, alphaPoisoned: null, classes };
}

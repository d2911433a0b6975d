import { UsageError } from '../errors.js';
import type { DetectionReport, FlaggingTest } from './detection-report.js';
import type { ChunkReader } from './likelihood-chunk.js';
import { scoreAt } from './sample-score.js';
import { RankSelector, type RankKey, type RankSelectorOptions } from './select-rank.js';

/** How a flagged class is split: docs/method.md's fixed alpha fractions, or the adaptive mixture cut. */
export type CutMode = 'fixed' | 'adaptive';

/** Options of the split (docs/method.md, step 6). */
export interface SplitOptions extends RankSelectorOptions {
  /** Share of a flagged class kept as clean. Default 0.3. */
  alphaClean?: number;
  /** Share of a flagged class called poisoned. Default 0.15. */
  alphaPoisoned?: number;
}

/** The cut points of one flagged class, in the order (score, row index) ascending. */
export interface ClassCut {
  label: number;
  test: FlaggingTest;
  /** Rows labelled c. */
  n: number;
  /** floor(alpha_c * n) */
  nClean: number;
  /** floor(alpha_p * n) */
  nPoisoned: number;
  /** The last key of the lowest group (rows with key <= lowLast), or null when that group is empty. */
  lowLast: RankKey | null;
  /** The first key of the highest group (rows with key >= highFirst), or null when that group is empty. */
  highFirst: RankKey | null;
}

/** Everything `splitRow` needs; plain data (JSON-safe), so it can go in a checkpoint. */
export interface SplitThresholds {
  K: number;
  /** No class was flagged: every row is clean. */
  clean: boolean;
  /** `fixed`: alpha fractions (docs/method.md); `adaptive`: `computeAdaptiveThresholds`. */
  cutMode: CutMode;
  /** The fractions of the fixed mode (null in adaptive mode). */
  alphaClean: number | null;
  alphaPoisoned: number | null;
  /** Per class: its cuts, or null for a class that was not flagged. */
  classes: (ClassCut | null)[];
  /**
   * ND-flagged classes: a row of the poisoned cut is relabelled only when its score is below
   * -relabelMargin (the best other class's flow beats its own by more than the margin); the
   * others go to uncertain. Null or absent: every row of the cut is relabelled (docs/method.md).
   */
  relabelMargin?: number | null;
}

/**
 * Group sizes of a flagged class: clean = floor(alpha_c * n), poisoned = floor(alpha_p * n).
 * (floor throughout; the reference release keeps n - floor((1 - alpha_c) n) clean rows for
 * ND-flagged classes, at most one more.) The low group of the ascending score order is
 * "poisoned" for the ND-test and "clean" for the D-test; the high group the other one.
 *
 * @example
 *   groupSizes(9500, 'ND', 0.3, 0.15); // { nClean: 2850, nPoisoned: 1425, nLow: 1425, nHigh: 2850 }
 */
export function groupSizes(n: number, test: FlaggingTest, alphaClean: number, alphaPoisoned: number) {
  const nClean = Math.floor(alphaClean * n);
  const nPoisoned = Math.floor(alphaPoisoned * n);
  return test === 'ND'
    ? { nClean, nPoisoned, nLow: nPoisoned, nHigh: nClean }
    : { nClean, nPoisoned, nLow: nClean, nHigh: nPoisoned };
}

/**
 * Exact cut points of every flagged class, from a re-readable stream of likelihood chunks:
 * the score s = L[c] - max over c' != c of L[c'] of each row of a flagged class goes to two
 * `RankSelector`s (last key of the low group, first key of the high group), all classes in
 * the same passes, ties broken by row index, so the groups have exactly the requested sizes.
 * Memory is O(flagged classes x (bins + maxCandidates)). Returns without reading when no
 * class is flagged.
 *
 * @example
 *   const report = await detectTargets(read, 10);
 *   const thresholds = await computeSplitThresholds(read, report, { alphaClean: 0.3, alphaPoisoned: 0.15 });
 *   // then, per row: splitRow(label, row, rowIndex, thresholds)
 */
export async function computeSplitThresholds(
  read: ChunkReader,
  report: DetectionReport,
  options: SplitOptions = {},
): Promise<SplitThresholds & { passes: number }> {
  const alphaClean = options.alphaClean ?? 0.3;
  const alphaPoisoned = options.alphaPoisoned ?? 0.15;
  checkAlphas(alphaClean, alphaPoisoned);
  const { K } = report;
  const classes: (ClassCut | null)[] = new Array(K).fill(null);
  const selectors: ({ low: RankSelector | null; high: RankSelector | null } | null)[] = new Array(K).fill(null);
  for (const { label, test } of report.flagged) {
    const n = report.classes[label].n;
    const g = groupSizes(n, test, alphaClean, alphaPoisoned);
    classes[label] = { label, test, n, nClean: g.nClean, nPoisoned: g.nPoisoned, lowLast: null, highFirst: null };
    selectors[label] = {
      low: g.nLow > 0 ? new RankSelector(g.nLow - 1, options) : null,
      high: g.nHigh > 0 ? new RankSelector(n - g.nHigh, options) : null,
    };
  }
  const active = () => selectors.some((s) => s && ((s.low && !s.low.done) || (s.high && !s.high.done)));
  let passes = 0;
  while (active()) {
    let row = 0;
    for await (const chunk of read()) {
      const { labels, L, n } = chunk;
      for (let i = 0; i < n; i++) {
        const s = selectors[labels[i]];
        if (s) {
          const v = scoreAt(L, i * K, K, labels[i]);
          s.low?.add(v, row + i);
          s.high?.add(v, row + i);
        }
      }
      row += n;
    }
    for (const s of selectors) {
      s?.low?.endPass();
      s?.high?.endPass();
    }
    passes += 1;
  }
  selectors.forEach((s, c) => {
    const cut = classes[c];
    if (!s || !cut) return;
    cut.lowLast = s.low ? s.low.result() : null;
    cut.highFirst = s.high ? s.high.result() : null;
  });
  return { K, clean: report.flagged.length === 0, cutMode: 'fixed', alphaClean, alphaPoisoned, classes, passes };
}

/**
 * Throws `UsageError` unless both alphas are in [0, 1] and sum to at most 1.
 *
 * @example
 *   checkAlphas(0.3, 0.15);
 */
export function checkAlphas(alphaClean: number, alphaPoisoned: number): void {
  if (!(alphaClean >= 0 && alphaClean <= 1)) throw new UsageError(`Expected \`--alpha-clean\` to be a number in [0, 1], got \`${alphaClean}\``);
  if (!(alphaPoisoned >= 0 && alphaPoisoned <= 1)) {
    throw new UsageError(`Expected \`--alpha-poisoned\` to be a number in [0, 1], got \`${alphaPoisoned}\``);
  }
  if (alphaClean + alphaPoisoned > 1) {
    throw new UsageError(`Expected \`--alpha-clean\` + \`--alpha-poisoned\` to be at most 1, got \`${alphaClean + alphaPoisoned}\``);
  }
}

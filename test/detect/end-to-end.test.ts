import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/rng.js';
import { computeAdaptiveThresholds } from '../../src/detect/adaptive-thresholds.js';
import { detectTargets } from '../../src/detect/detect-targets.js';
import { fitMixture2 } from '../../src/detect/gaussian-mixture.js';
import { histogramBin, histogramEdges } from '../../src/detect/histogram.js';
import { computeSplitThresholds } from '../../src/detect/split-thresholds.js';
import { splitRow, type SplitDecision } from '../../src/detect/split-row.js';
import type { SplitThresholds } from '../../src/detect/split-thresholds.js';
import { SplitMetricsAccumulator } from '../../src/eval/split-metrics.js';
import { chunkReader } from './helpers.js';

/**
 * A synthetic ND-type attack: K = 5, 1000 rows per class, target 0, 400 poisoned rows
 * (10% of the 4000 non-target rows) labelled 0 whose source flow likes them (-0.6) more
 * than flow 0 does (-1.0); flow 0 also explains other classes' clean rows better (-1.0)
 * than the other flows explain off-class rows (-1.5). Noise sd 0.05.
 */
function ndAttack(kind: 'ND' | 'D' = 'ND') {
  const rng = new Rng(42);
  const K = 5;
  const labels: number[] = [];
  const rows: number[][] = [];
  const truth: { isPoisoned: boolean; source: number }[] = [];
  const noise = () => 0.05 * rng.normal();
  let poisonLeft = 400;
  for (let i = 0; i < 5000; i++) {
    const source = i % K;
    const poisoned = source !== 0 && poisonLeft > 0 && i % 10 === source; // 400 rows spread over classes 1..4
    if (poisoned) poisonLeft--;
    const row = Array.from({ length: K }, (_, c) => (c === 0 ? -1.0 : -1.5) + noise());
    if (poisoned && kind === 'ND') row[source] = -0.6 + noise();
    else row[source] = -0.5 + noise();
    if (poisoned && kind === 'D') {
      // a disruptive trigger: a tight cluster every other flow finds very unlikely, absorbed by flow 0
      for (let c = 0; c < K; c++) row[c] = (c === 0 ? -0.3 : -4) + noise();
    } else if (kind === 'D' && source !== 0) row[0] = -1.5 + noise();
    labels.push(poisoned ? 0 : source);
    rows.push(row);
    truth.push({ isPoisoned: poisoned, source });
  }
  return { K, labels, rows, truth };
}

async function route(read: ReturnType<typeof chunkReader>, K: number, t: SplitThresholds) {
  const out: SplitDecision[] = [];
  let row = 0;
  for await (const c of read()) {
    for (let i = 0; i < c.n; i++) out.push(splitRow(c.labels[i], c.L.subarray(i * K, (i + 1) * K), row + i, t));
    row += c.n;
  }
  return out;
}

function metrics(out: SplitDecision[], data: ReturnType<typeof ndAttack>) {
  const acc = new SplitMetricsAccumulator();
  out.forEach((d, i) =>
    acc.add({ split: d.split, gssdLabel: d.trainLabel, isPoisoned: data.truth[i].isPoisoned, isCover: false, sourceLabel: data.truth[i].source, label: data.labels[i] }),
  );
  return acc.result();
}

describe('detect -> split -> metrics on a synthetic ND attack', () => {
  const data = ndAttack();
  const read = chunkReader(data.labels, data.rows, 333);

  it('robust mode finds the target (ND) where the paper thresholds go wrong', async () => {
    expect(data.labels.filter((y) => y === 0).length).toBe(1400);
    // every u is below lambda here, so the paper's valley search runs over all 30 bins and
    // finds right-tail gaps: 4 classes flagged by the D-test, the target with the wrong direction
    const paper = await detectTargets(read, data.K, { mode: 'paper' });
    expect(paper.flagged).toEqual([
      { label: 0, test: 'D' },
      { label: 2, test: 'D' },
      { label: 3, test: 'D' },
      { label: 4, test: 'D' },
    ]);
    const robust = await detectTargets(read, data.K, { mode: 'robust' });
    expect(robust.flagged).toEqual([{ label: 0, test: 'ND' }]);
    // low tails about the 1% quantile or less everywhere: no D-type outlier
    expect(robust.classes.every((c) => (c.dRobust?.statistic ?? 1) < 0.01)).toBe(true);
    expect(robust.classes[0].ndTest.statistic).toBeCloseTo(1.0, 2);
  });

  it('fixed alphas: 210 poisoned (all truly poisoned, relabelled to the source), 420 clean, nothing poisoned left in clean', async () => {
    const report = await detectTargets(read, data.K, { mode: 'robust' });
    const t = await computeSplitThresholds(read, report);
    expect(t.classes[0]).toMatchObject({ n: 1400, nClean: 420, nPoisoned: 210 });
    const m = metrics(await route(read, data.K, t), data);
    expect(m.counts.poisoned).toEqual({ clean: 0, poisoned: 210 });
    expect(m.counts.clean).toEqual({ clean: 3600 + 420, poisoned: 0 });
    expect(m.removalRecall).toBe(1);
    expect(m.poisonedRecall).toBeCloseTo(210 / 400, 12);
    expect(m.cleanLoss).toBeCloseTo(580 / 4600, 12);
    expect(m.relabelAccuracy).toBe(1);
  });

  it('adaptive cut: the mixture separates the two modes, all 400 poisoned and all 1000 clean rows found', async () => {
    const report = await detectTargets(read, data.K, { mode: 'robust' });
    const t = await computeAdaptiveThresholds(read, report);
    expect(t.classes[0]).toMatchObject({ nPoisoned: 400, nClean: 1000 });
    expect(t.classes[0]?.mixture.means[0]).toBeCloseTo(-0.4, 1);
    expect(t.classes[0]?.mixture.means[1]).toBeCloseTo(1.0, 1);
    const m = metrics(await route(read, data.K, t), data);
    expect(m.poisonedRecall).toBe(1);
    expect(m.poisonedPrecision).toBe(1);
    expect(m.cleanLoss).toBe(0);
    expect(m.removalRecall).toBe(1);
  });
});

describe('detect -> split -> metrics on a synthetic D attack', () => {
  const data = ndAttack('D');
  const read = chunkReader(data.labels, data.rows, 500);

  it('robust mode flags the target by the D-test and the split removes all poison', async () => {
    const report = await detectTargets(read, data.K, { mode: 'robust' });
    expect(report.flagged).toEqual([{ label: 0, test: 'D' }]);
    expect(report.classes[0].dRobust?.statistic).toBeCloseTo(400 / 1400, 12);
    const t = await computeSplitThresholds(read, report);
    const m = metrics(await route(read, data.K, t), data);
    // D-flagged: the lowest 420 scores (clean target rows, s ~ 1.0) clean, the highest 210 (poison, s ~ 3.7) dropped
    expect(m.counts.clean).toEqual({ clean: 4020, poisoned: 0 });
    expect(m.counts.poisoned).toEqual({ clean: 0, poisoned: 210 });
    expect(m.removalRecall).toBe(1);
    expect(m.relabelled).toBe(0);
    const a = await computeAdaptiveThresholds(read, report);
    expect(a.classes[0]).toMatchObject({ nPoisoned: 400, nClean: 1000 });
  });
});

describe('fitMixture2', () => {
  it('recovers two well-separated Gaussians from a histogram', () => {
    const rng = new Rng(5);
    const xs = [...Array.from({ length: 3000 }, () => rng.normal()), ...Array.from({ length: 1000 }, () => 6 + 0.5 * rng.normal())];
    const edges = histogramEdges(Math.min(...xs), Math.max(...xs), 256);
    const counts = new Array(256).fill(0);
    for (const x of xs) counts[histogramBin(x, edges)] += 1;
    const mix = fitMixture2(edges, counts);
    expect(mix.weights[0]).toBeCloseTo(0.75, 2);
    expect(mix.means[0]).toBeCloseTo(0, 1);
    expect(mix.means[1]).toBeCloseTo(6, 1);
    expect(mix.sds[0]).toBeCloseTo(1, 1);
    expect(mix.sds[1]).toBeCloseTo(0.5, 1);
  });
});

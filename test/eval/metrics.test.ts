import { describe, expect, it } from 'vitest';
import { ScoreSeparationAccumulator } from '../../src/eval/score-separation.js';
import { SplitMetricsAccumulator, detectionMetrics, type EvalRow } from '../../src/eval/index.js';

function rows(spec: [EvalRow['split'], number | null, boolean, boolean, number, number, number][]): EvalRow[] {
  const out: EvalRow[] = [];
  for (const [split, gssdLabel, isPoisoned, isCover, sourceLabel, label, times] of spec) {
    for (let t = 0; t < times; t++) out.push({ split, gssdLabel, isPoisoned, isCover, sourceLabel, label });
  }
  return out;
}

describe('split metrics', () => {
  it('computes removal recall (TPR), clean loss (FPR), poisoned-split precision/recall and relabel accuracy (hand case)', () => {
    // 10 poisoned rows (label 0, sources 1..3), 90 truly clean rows (4 of them covers)
    const data = rows([
      // poisoned: 2 left in clean, 5 in poisoned (4 relabelled right, 1 wrong), 3 uncertain
      ['clean', 0, true, false, 1, 0, 2],
      ['poisoned', 1, true, false, 1, 0, 4],
      ['poisoned', 2, true, false, 3, 0, 1],
      ['uncertain', null, true, false, 2, 0, 3],
      // clean rows of the target class: 20 clean, 1 wrongly in poisoned (relabelled to 5), 9 uncertain
      ['clean', 0, false, false, 0, 0, 20],
      ['poisoned', 5, false, false, 0, 0, 1],
      ['uncertain', null, false, false, 0, 0, 9],
      // other classes: 56 clean rows kept, covers: 3 kept, 1 uncertain
      ['clean', 4, false, false, 4, 4, 56],
      ['clean', 2, false, true, 2, 2, 3],
      ['uncertain', null, false, true, 2, 2, 1],
    ]);
    const acc = new SplitMetricsAccumulator();
    data.forEach((r) => acc.add(r));
    const m = acc.result();
    expect(m.rows).toBe(100);
    expect(m.poisonedRows).toBe(10);
    expect(m.cleanRows).toBe(90);
    expect(m.coverRows).toBe(4);
    expect(m.counts).toEqual({ clean: { clean: 79, poisoned: 2 }, poisoned: { clean: 1, poisoned: 5 }, uncertain: { clean: 10, poisoned: 3 } });
    expect(m.removalRecall).toBeCloseTo(0.8, 12); // 8 of 10 not in clean
    expect(m.poisonLeftInClean).toBeCloseTo(0.2, 12);
    expect(m.cleanLoss).toBeCloseTo(11 / 90, 12); // 1 + 9 + 1 cover
    expect(m.coverLoss).toBeCloseTo(0.25, 12);
    expect(m.poisonedPrecision).toBeCloseTo(5 / 6, 12);
    expect(m.poisonedRecall).toBeCloseTo(0.5, 12);
    expect(m.relabelled).toBe(6);
    expect(m.relabelAccuracy).toBeCloseTo(4 / 6, 12);
    expect(m.relabelAccuracyPoisoned).toBeCloseTo(4 / 5, 12);
    // trained rows: 2 + 5 + 20 + 1 + 56 + 3 = 87; wrong: 2 (poison left in clean) + 1 + 1 = 4
    expect(m.trainLabelNoise).toBeCloseTo(4 / 87, 12);
  });

  it('gives null rates when there is nothing to measure', () => {
    const acc = new SplitMetricsAccumulator();
    acc.add({ split: 'clean', gssdLabel: 1, isPoisoned: false, isCover: false, sourceLabel: 1, label: 1 });
    const m = acc.result();
    expect(m.removalRecall).toBeNull();
    expect(m.poisonedPrecision).toBeNull();
    expect(m.relabelAccuracy).toBeNull();
    expect(m.cleanLoss).toBe(0);
  });
});

describe('detection metrics', () => {
  it('reports target found and wrongly flagged classes', () => {
    expect(detectionMetrics([4, 0, 4], 0)).toEqual({ trueTarget: 0, flagged: [0, 4], targetFound: true, wronglyFlagged: [4], cleanDeclaredClean: null });
    expect(detectionMetrics([], 0)).toMatchObject({ targetFound: false, wronglyFlagged: [] });
    expect(detectionMetrics([], null)).toMatchObject({ targetFound: null, cleanDeclaredClean: true });
    expect(detectionMetrics([2], null)).toMatchObject({ wronglyFlagged: [2], cleanDeclaredClean: false });
  });
});

describe('score separation', () => {
  it('gives the AUROC and the own rows kept at 99% removal (hand case)', () => {
    const acc = new ScoreSeparationAccumulator(0, 1, 6);
    for (const s of [3, 4, 5, 6]) acc.add(s, false);
    for (const s of [1, 2, 3.5]) acc.add(s, true);
    const r = acc.result()!;
    // own 3 beats 1 and 2; 4, 5 and 6 beat all three: 11 of 12 pairs
    expect(r.auroc).toBeCloseTo(11 / 12, 12);
    // 99% of 3 poisoned rows leaves none above the cut: the cut is above 3.5, keeping 4, 5, 6
    expect(r.ownKeptAt99Removal).toBe(0.75);
    expect(r.ownKeptAtFullRemoval).toBe(0.75);
    expect(r).toMatchObject({ label: 0, ownRows: 4, poisonedRows: 3 });
  });

  it('counts ties as half and lets 1% of the poison stay above the cut', () => {
    const tie = new ScoreSeparationAccumulator(2, 0, 1);
    tie.add(0.5, false);
    tie.add(0.5, true);
    expect(tie.result()!.auroc).toBe(0.5);
    const acc = new ScoreSeparationAccumulator(1, 0, 300);
    for (let i = 0; i < 200; i++) acc.add(i, true); // poisoned 0..199: 2 of them may stay above the cut
    for (let i = 0; i < 100; i++) acc.add(196.5 + i, false); // own 196.5..295.5: only 196.5 is below 197
    expect(acc.result()!.ownKeptAt99Removal).toBe(0.99);
    // all the poison removed: the cut goes above 199, keeping own 199.5..295.5 (97 of 100)
    expect(acc.result()!.ownKeptAtFullRemoval).toBe(0.97);
  });

  it('refuses a score outside its range instead of counting it in an end bin', () => {
    const acc = new ScoreSeparationAccumulator(0, 0, 1);
    expect(() => acc.add(1.5, true)).toThrow(/outside the range/);
    expect(() => acc.add(Number.NaN, false)).toThrow(/outside the range/);
  });

  it('is null without own or poisoned rows', () => {
    const acc = new ScoreSeparationAccumulator(0, 0, 1);
    acc.add(0.3, false);
    expect(acc.result()).toBeNull();
  });
});

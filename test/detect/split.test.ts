import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/rng.js';
import type { DetectionReport } from '../../src/detect/detection-report.js';
import { sampleScore } from '../../src/detect/sample-score.js';
import { computeSplitThresholds, groupSizes } from '../../src/detect/split-thresholds.js';
import { splitRow, type SplitDecision } from '../../src/detect/split-row.js';
import { chunkReader } from './helpers.js';

/** A report stub: only K, flagged and the class sizes matter to the split. */
function report(K: number, labels: number[], flagged: DetectionReport['flagged']): DetectionReport {
  const n = new Array(K).fill(0);
  for (const y of labels) n[y] += 1;
  return { K, flagged, clean: flagged.length === 0, classes: n.map((v, label) => ({ label, n: v })) } as unknown as DetectionReport;
}

async function splitAll(labels: number[], rows: number[][], rep: DetectionReport, chunk = 7) {
  const read = chunkReader(labels, rows, chunk);
  const t = await computeSplitThresholds(read, rep, { alphaClean: 0.3, alphaPoisoned: 0.15, bins: 16, maxCandidates: 8 });
  const out: SplitDecision[] = [];
  let row = 0;
  for await (const c of read()) {
    for (let i = 0; i < c.n; i++) out.push(splitRow(c.labels[i], c.L.subarray(i * rep.K, (i + 1) * rep.K), row + i, t));
    row += c.n;
  }
  return out;
}

describe('sampleScore', () => {
  it('is own minus best other, with generative prediction and relabel', () => {
    expect(sampleScore(0, [-1, -0.5, -2])).toEqual({ score: -0.5, loglik: -1, pred: 1, relabel: 1 });
    expect(sampleScore(2, [-1, -1, 0])).toEqual({ score: 1, loglik: 0, pred: 2, relabel: 0 }); // tie -> lowest index
  });
});

describe('split', () => {
  it('sizes groups with floor', () => {
    expect(groupSizes(9500, 'ND', 0.3, 0.15)).toEqual({ nClean: 2850, nPoisoned: 1425, nLow: 1425, nHigh: 2850 });
    expect(groupSizes(10, 'D', 0.3, 0.15)).toEqual({ nClean: 3, nPoisoned: 1, nLow: 3, nHigh: 1 });
  });

  it('splits a hand-built ND class and a D class, ties by row index', async () => {
    // K = 3; class 0 (ND) has 10 rows with score s = L0 - max(L1, L2) = -5..4 (rows 0..9 in a shuffled order)
    const s0 = [2, -5, 4, 0, -1, 3, -3, 1, -2, -4];
    const labels: number[] = [];
    const rows: number[][] = [];
    for (const s of s0) {
      labels.push(0);
      rows.push([s - 1, -1, -1.5]); // best other is class 1 (-1)
    }
    // class 1 (D) has 10 rows, scores: 0,0,0,0 (ties), then 1..6
    const s1 = [0, 5, 0, 1, 6, 0, 2, 3, 0, 4];
    for (const s of s1) {
      labels.push(1);
      rows.push([-2, s - 2, -3]); // best other is class 0 (-2)
    }
    // class 2 not flagged
    labels.push(2, 2);
    rows.push([0, 0, -9], [-1, -2, -3]);
    const out = await splitAll(labels, rows, report(3, labels, [{ label: 0, test: 'ND' }, { label: 1, test: 'D' }]), 3);

    // ND class: highest 3 (4, 3, 2) clean; lowest floor(1.5) = 1 (-5) poisoned and relabelled to 1; rest uncertain
    const nd = out.slice(0, 10).map((d) => d.split);
    expect(nd).toEqual(['clean', 'poisoned', 'clean', 'uncertain', 'uncertain', 'clean', 'uncertain', 'uncertain', 'uncertain', 'uncertain']);
    expect(out[1]).toMatchObject({ score: -5, loglik: -6, pred: 1, trainLabel: 1 });
    expect(out[0].trainLabel).toBe(0);
    expect(out[3].trainLabel).toBeNull();

    // D class: lowest 3 clean = the first three zeros by row index (rows 10, 12, 15); highest 1 (6, row 14) poisoned, dropped
    const d = out.slice(10, 20).map((x) => x.split);
    expect(d).toEqual(['clean', 'uncertain', 'clean', 'uncertain', 'poisoned', 'clean', 'uncertain', 'uncertain', 'uncertain', 'uncertain']);
    expect(out[14]).toMatchObject({ trainLabel: null, score: 6 });
    expect(out[14].reason).toMatch(/dropped/);

    expect(out[20]).toMatchObject({ split: 'clean', trainLabel: 2, pred: 0, score: -9, loglik: -9 });
    expect(out[20].reason).toBe('class 2 not flagged');
  });

  it('relabels a row of the poisoned cut only when another class beats its own by more than the margin', async () => {
    // K = 3, class 0 (ND): scores -3..6; with alpha_p 0.4 the poisoned cut is the lowest 4 (-3, -2, -1, 0)
    const s0 = [-3, -2, -1, 0, 1, 2, 3, 4, 5, 6];
    const labels = s0.map(() => 0);
    const rows = s0.map((s) => [s - 1, -1, -1.5]);
    const rep = report(3, labels, [{ label: 0, test: 'ND' }]);
    const t = await computeSplitThresholds(chunkReader(labels, rows, 4), rep, { alphaClean: 0.3, alphaPoisoned: 0.4 });
    const split = (margin: number | null) => rows.map((r, i) => splitRow(0, r, i, { ...t, relabelMargin: margin }));
    // no margin (the paper): the whole cut relabelled to class 1
    expect(split(null).slice(0, 4).map((d) => [d.split, d.trainLabel])).toEqual([['poisoned', 1], ['poisoned', 1], ['poisoned', 1], ['poisoned', 1]]);
    // margin 0: the row scoring 0 (its own flow ties the best other) is not relabelled
    const m0 = split(0);
    expect(m0.slice(0, 4).map((d) => d.split)).toEqual(['poisoned', 'poisoned', 'poisoned', 'uncertain']);
    expect(m0[3]).toMatchObject({ trainLabel: null, score: 0 });
    expect(m0[3].reason).toMatch(/not relabelled/);
    // margin 1.5: only scores below -1.5 are relabelled; the clean and uncertain rows do not move
    const m15 = split(1.5);
    expect(m15.map((d) => d.split)).toEqual(['poisoned', 'poisoned', 'uncertain', 'uncertain', 'uncertain', 'uncertain', 'uncertain', 'clean', 'clean', 'clean']);
    expect(split(null).slice(4).map((d) => d.split)).toEqual(m15.slice(4).map((d) => d.split));
  });

  it('gives exactly floor(alpha n) rows per group on a larger random case, matching a full sort', async () => {
    const rng = new Rng(11);
    const K = 4;
    const labels: number[] = [];
    const rows: number[][] = [];
    for (let i = 0; i < 3000; i++) {
      labels.push(rng.int(K));
      rows.push(Array.from({ length: K }, () => Math.round(rng.normal() * 8) / 8)); // ties
    }
    const rep = report(K, labels, [{ label: 1, test: 'ND' }, { label: 3, test: 'D' }]);
    const out = await splitAll(labels, rows, rep, 101);
    for (const { label, test } of rep.flagged) {
      const idx = labels.flatMap((y, i) => (y === label ? [i] : []));
      const order = idx
        .map((i) => ({ i, s: Math.fround(rows[i][label]) - Math.max(...rows[i].map(Math.fround).filter((_, c) => c !== label)) }))
        .sort((a, b) => a.s - b.s || a.i - b.i)
        .map((x) => x.i);
      const n = idx.length;
      const nc = Math.floor(0.3 * n);
      const np = Math.floor(0.15 * n);
      const clean = new Set(test === 'ND' ? order.slice(n - nc) : order.slice(0, nc));
      const poisoned = new Set(test === 'ND' ? order.slice(0, np) : order.slice(n - np));
      for (const i of idx) {
        expect(out[i].split).toBe(clean.has(i) ? 'clean' : poisoned.has(i) ? 'poisoned' : 'uncertain');
      }
      expect(idx.filter((i) => out[i].split === 'clean').length).toBe(nc);
      expect(idx.filter((i) => out[i].split === 'poisoned').length).toBe(np);
    }
    expect(out.filter((d, i) => labels[i] === 0 || labels[i] === 2).every((d) => d.split === 'clean')).toBe(true);
  });

  it('keeps everything clean when no class is flagged, without reading the stream', async () => {
    const out = await splitAll([0, 1], [[0, -1], [-1, 0]], report(2, [0, 1], []));
    expect(out.map((d) => d.reason)).toEqual(['no class flagged', 'no class flagged']);
  });

  it('rejects alphas that overlap', async () => {
    await expect(computeSplitThresholds(chunkReader([0], [[0, 0]], 1), report(2, [0], []), { alphaClean: 0.9, alphaPoisoned: 0.2 })).rejects.toThrow(
      'Expected `--alpha-clean` + `--alpha-poisoned` to be at most 1',
    );
  });
});

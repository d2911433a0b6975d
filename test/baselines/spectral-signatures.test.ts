import { describe, expect, it } from 'vitest';
import { fitSpectral, spectralVerdict, type SpectralModel } from '../../src/baselines/spectral-signatures.js';
import { computeClassMoments } from '../../src/baselines/class-moments.js';
import { compareKeys } from '../../src/detect/select-rank.js';
import { reader, rowOf, shiftedGaussians, type Synthetic } from './helpers.js';

function verdicts(model: SpectralModel, data: Synthetic) {
  return Array.from(data.labels, (label, i) => spectralVerdict(model, rowOf(data, i), label, i));
}

describe('fitSpectral / spectralVerdict', () => {
  const data = shiftedGaussians(1);

  it('gives the shifted rows the top scores of class 0 and removes them (recall >= 0.9)', async () => {
    const model = await fitSpectral(reader(data, 97), data.K, data.D);
    const v = verdicts(model, data);
    const class0 = [...data.labels.keys()].filter((i) => data.labels[i] === 0);
    const byScore = [...class0].sort((a, b) => v[b].score - v[a].score);
    const top70 = byScore.slice(0, 70);
    // v_0 is the shift direction; shifted rows score far above clean ones and fill the top 70
    const alignment = model.classes[0].direction.reduce((sum, x, d) => sum + x * data.direction[d], 0);
    expect(Math.abs(alignment)).toBeGreaterThan(0.95);
    const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))];
    const cleanScores = class0.filter((i) => !data.shifted[i]).map((i) => v[i].score);
    const shiftedScores = class0.filter((i) => data.shifted[i]).map((i) => v[i].score);
    expect(quantile(shiftedScores, 0.5)).toBeGreaterThan(3 * quantile(cleanScores, 0.95));
    expect(top70.filter((i) => data.shifted[i]).length).toBeGreaterThanOrEqual(60);
    const shifted = class0.filter((i) => data.shifted[i]);
    const recall = shifted.filter((i) => v[i].removed).length / shifted.length;
    expect(recall).toBeGreaterThanOrEqual(0.9);
    // the top direction of class 0 stands out: it is the suspected target
    expect(model.suspectedTarget).toBe(0);
    expect(model.classes.map((c) => c.flagged)).toEqual([true, false, false]);
    expect(model.classes[0].standOut).toBeGreaterThan(1.5);
    expect(model.classes[0].topEigenvalue).toBeGreaterThan(3);
  });

  it('removes exactly floor(fraction x N_c) rows per class, the top keys by (score, row index)', async () => {
    for (const [fraction, opts] of [
      [0.15, {}],
      [0.3, { bins: 4, maxCandidates: 8 }], // forces several refinement passes
    ] as const) {
      const model = await fitSpectral(reader(data, 97), data.K, data.D, { spectralRemoveFraction: fraction, ...opts });
      const v = verdicts(model, data);
      for (let c = 0; c < data.K; c++) {
        const rows = [...data.labels.keys()].filter((i) => data.labels[i] === c);
        const want = Math.floor(fraction * rows.length);
        expect(model.classes[c].n).toBe(rows.length);
        expect(model.classes[c].nRemoved).toBe(want);
        const sorted = rows.map((i) => ({ value: v[i].score, rowIndex: i })).sort(compareKeys);
        const top = new Set(sorted.slice(rows.length - want).map((k) => k.rowIndex));
        expect(rows.filter((i) => v[i].removed)).toEqual(rows.filter((i) => top.has(i)));
      }
      expect(model.totalRemoved).toBe(v.filter((x) => x.removed).length);
    }
  });

  it('is deterministic and independent of the chunk size (1, 97, 4096 rows)', async () => {
    const a = await fitSpectral(reader(data, 97), data.K, data.D);
    const b = await fitSpectral(reader(data, 97), data.K, data.D);
    expect(b).toEqual(a);
    for (const size of [1, 4096]) expect(await fitSpectral(reader(data, size), data.K, data.D)).toEqual(a);
    // plain JSON: a round trip keeps every verdict
    const back = JSON.parse(JSON.stringify(a)) as SpectralModel;
    expect(verdicts(back, data)).toEqual(verdicts(a, data));
  });

  it('reuses precomputed moments, and breaks ties by row index (later rows removed first)', async () => {
    const moments = await computeClassMoments(reader(data, 500), data.K, data.D);
    const shared = await fitSpectral(reader(data, 500), data.K, data.D, { moments });
    const own = await fitSpectral(reader(data, 500), data.K, data.D);
    expect({ ...shared, passes: 0 }).toEqual({ ...own, passes: 0 });
    expect(shared.passes).toBe(own.passes - 2);

    // 40 identical rows of class 1 (all scores equal), 20 of class 0, 3 rejected rows (label -1)
    const D = 3;
    const labels = Int32Array.from({ length: 63 }, (_, i) => (i % 21 === 20 ? -1 : i % 3 === 0 ? 0 : 1));
    const h = new Float32Array(63 * D);
    labels.forEach((y, i) => h.set(y === 0 ? [i % 5, (i * 7) % 3, 1] : [2, 2, 2], i * D));
    const tie = { D, h, labels };
    const model = await fitSpectral(reader(tie, 8), 2, D, { spectralRemoveFraction: 0.25, maxCandidates: 2, bins: 2 });
    const ones = [...labels.keys()].filter((i) => labels[i] === 1);
    const removed = ones.filter((i) => spectralVerdict(model, rowOf(tie, i), 1, i).removed);
    expect(removed).toEqual(ones.slice(ones.length - Math.floor(0.25 * ones.length)));
    expect(model.classes[1].n).toBe(ones.length);
    expect(spectralVerdict(model, rowOf(tie, 20), -1, 20)).toEqual({ removed: false, score: 0 });
  });

  it('rejects bad input', async () => {
    const bad = { ...data, labels: data.labels.map((y, i) => (i === 5 ? 3 : y)) };
    await expect(fitSpectral(reader(bad, 97), data.K, data.D)).rejects.toThrow(/row 5: label 3 outside/);
    const nan = { ...data, h: data.h.map((x, i) => (i === 17 ? NaN : x)) };
    await expect(fitSpectral(reader(nan, 97), data.K, data.D)).rejects.toThrow(/row 1: h\[1\] is NaN/);
    await expect(fitSpectral(reader(data, 97), data.K, data.D, { spectralRemoveFraction: 1.5 })).rejects.toThrow(/spectralRemoveFraction/);
  });
});

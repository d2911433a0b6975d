import { describe, expect, it } from 'vitest';
import { computeClassMoments } from '../../src/baselines/class-moments.js';
import { reader, shiftedGaussians } from './helpers.js';

describe('computeClassMoments', () => {
  it('matches a direct computation and does not depend on the chunking', async () => {
    const data = shiftedGaussians(3);
    const { D, K } = data;
    const labels = data.labels.map((y, i) => (i % 13 === 0 ? -1 : y)); // some rejected rows
    const m = await computeClassMoments(reader({ ...data, labels }, 97), K, D);
    expect(m.passes).toBe(2);
    for (let c = 0; c < K; c++) {
      const rows = [...labels.keys()].filter((i) => labels[i] === c);
      expect(m.n[c]).toBe(rows.length);
      const mu = Array.from({ length: D }, (_, d) => rows.reduce((s, i) => s + data.h[i * D + d], 0) / rows.length);
      for (let d = 0; d < D; d++) expect(Math.abs(m.mean[c][d] - mu[d])).toBeLessThan(1e-12);
      for (let a = 0; a < D; a++) {
        for (let b = 0; b < D; b++) {
          const want = rows.reduce((s, i) => s + (data.h[i * D + a] - mu[a]) * (data.h[i * D + b] - mu[b]), 0) / rows.length;
          expect(Math.abs(m.cov[c]![a * D + b] - want)).toBeLessThan(1e-10);
        }
      }
    }
    for (const size of [1, 33, 4096]) expect(await computeClassMoments(reader({ ...data, labels }, size), K, D)).toEqual(m);
  });

  it('leaves an empty class without a covariance', async () => {
    const m = await computeClassMoments(reader({ D: 2, h: Float32Array.of(1, 2, 3, 4), labels: Int32Array.of(0, 0) }, 1), 2, 2);
    expect(m.n).toEqual([2, 0]);
    expect(Array.from(m.cov[0]!)).toEqual([1, 1, 1, 1]);
    expect(m.cov[1]).toBeNull();
    expect(Array.from(m.mean[1])).toEqual([0, 0]);
  });
});

import { describe, expect, it } from 'vitest';
import { knnBlock, knnDecision, knnRowVerdict, KNN_COLUMNS } from '../../src/baselines/deep-knn.js';
import { Rng } from '../../src/rng.js';
import { reader } from './helpers.js';

/**
 * K = 4 Gaussian clusters in D = 8 (600 rows), and 40 rows of classes 1-3 planted with label 0
 * (an all-to-one mislabelling, as a dirty-label attack leaves it), plus 3 rejected rows.
 */
function planted() {
  const K = 4;
  const D = 8;
  const n = 600;
  const rng = new Rng(5);
  const centres = Array.from({ length: K }, () => Array.from({ length: D }, () => 4 * rng.normal()));
  const h = new Float32Array(n * D);
  const labels = new Int32Array(n);
  const truth = new Int32Array(n);
  const planted = new Set<number>();
  for (let i = 0; i < n; i++) {
    const c = i % K;
    truth[i] = c;
    labels[i] = c;
    for (let d = 0; d < D; d++) h[i * D + d] = centres[c][d] + rng.normal();
  }
  for (let i = 0; planted.size < 40; i += 7) {
    if (truth[i] !== 0) {
      labels[i] = 0;
      planted.add(i);
    }
  }
  for (const i of [10, 300, 599]) labels[i] = -1;
  return { K, D, n, h, labels, truth, planted };
}

const scaling = (D: number) => ({ mean: new Float64Array(D), std: new Float64Array(D).fill(1) });

describe('Deep k-NN', () => {
  it('removes the planted mislabelled rows and flags the class they were moved into', async () => {
    const data = planted();
    const { K, D, n } = data;
    const rows = await knnBlock(reader(data, 128), K, D, 0, n, scaling(D), { k: 20 });
    const removed = new Set<number>();
    const nPer = new Array(K).fill(0);
    const removedPer = new Array(K).fill(0);
    for (let i = 0; i < n; i++) {
      const r = rows.subarray(i * KNN_COLUMNS, (i + 1) * KNN_COLUMNS);
      if (data.labels[i] < 0) {
        expect(Number.isNaN(r[0])).toBe(true);
        expect(r[2]).toBe(-1);
        continue;
      }
      nPer[data.labels[i]]++;
      const v = knnRowVerdict(r, data.labels[i]);
      if (v.removed) {
        removed.add(i);
        removedPer[data.labels[i]]++;
      }
      // a planted row's neighbours carry its true label
      if (data.planted.has(i)) expect(v.plurality).toBe(data.truth[i]);
    }
    for (const i of data.planted) expect(removed.has(i), `planted row ${i}`).toBe(true);
    expect(removed.size).toBeLessThanOrEqual(data.planted.size + 3);
    const model = knnDecision({ K, D, k: 20, n: nPer, removed: removedPer, alpha: 0.2 });
    expect(model.flagged).toEqual([0]);
    expect(model.totalRemoved).toBe(removed.size);
  });

  it('gives the same rows for any block partition and stream chunking, and equals brute force', async () => {
    const data = planted();
    const { K, D, n } = data;
    const whole = await knnBlock(reader(data, 600), K, D, 0, n, scaling(D), { k: 7 });
    const parts: Float32Array[] = [];
    for (const [s, e] of [[0, 101], [101, 350], [350, 600]]) parts.push(await knnBlock(reader(data, 37), K, D, s, e, scaling(D), { k: 7 }));
    const joined = new Float32Array(whole.length);
    let o = 0;
    for (const p of parts) {
      joined.set(p, o);
      o += p.length;
    }
    expect(Array.from(joined)).toEqual(Array.from(whole));
    // brute force for a few rows: cosine similarity, the 7 best other non-rejected rows
    const unit = (i: number) => {
      const v = Array.from(data.h.subarray(i * D, (i + 1) * D));
      const norm = Math.hypot(...v);
      return v.map((x) => x / norm);
    };
    for (const q of [0, 1, 77, 598]) {
      const uq = unit(q);
      const others = [];
      for (let j = 0; j < n; j++) if (j !== q && data.labels[j] >= 0) others.push({ j, s: unit(j).reduce((a, x, d) => a + x * uq[d], 0) });
      others.sort((a, b) => b.s - a.s || a.j - b.j);
      const own = others.slice(0, 7).filter((x) => data.labels[x.j] === data.labels[q]).length;
      expect(whole[q * KNN_COLUMNS]).toBeCloseTo(own / 7, 6);
    }
  });
});

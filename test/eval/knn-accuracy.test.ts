import { describe, expect, it } from 'vitest';
import { knnAccuracy } from '../../src/eval/knn-accuracy.js';
import { Rng } from '../../src/rng.js';

/** Unit vectors in the plane at these angles (degrees), times a length: cosine similarity sees only the angle. */
function atAngles(degrees: number[], lengths: number[] = degrees.map(() => 1)): Float32Array {
  const out = new Float32Array(degrees.length * 2);
  degrees.forEach((d, i) => {
    out[2 * i] = lengths[i] * Math.cos((d * Math.PI) / 180);
    out[2 * i + 1] = lengths[i] * Math.sin((d * Math.PI) / 180);
  });
  return out;
}

// six points on the circle; cosine distance grows with the angle between them
const ANGLES = [0, 10, 25, 90, 100, 180];
const LABELS = [0, 0, 1, 1, 1, 2];

describe('knnAccuracy', () => {
  it('k = 2: a 1-1 vote goes to the nearest neighbour (worked by hand)', () => {
    // p0: p1(0), p2(1) -> tie, nearest p1 -> 0 right;  p1: p0(0), p2(1) -> 0 right
    // p2: p1(0), p0(0) -> 0 wrong;                     p3: p4(1), p2(1) -> 1 right
    // p4: p3(1), p2(1) (75 deg, before p5 at 80) -> 1 right;  p5: p4(1), p3(1) -> 1 wrong
    const r = knnAccuracy(atAngles(ANGLES), LABELS, 2, { k: 2 });
    expect([...r.predictions]).toEqual([0, 0, 0, 1, 1, 1]);
    expect(r.correct).toBe(4);
    expect(r.accuracy).toBeCloseTo(4 / 6, 12);
    expect(r.rows).toBe(6);
  });

  it('k = 3: the majority beats the nearest (worked by hand)', () => {
    // p0: p1(0), p2(1), p3(1) -> 1 wrong;  p1: p0(0), p2(1), p3(1) -> 1 wrong;  p2: p1(0), p0(0), p3(1) -> 0 wrong
    // p3: p4(1), p2(1), p1(0) -> 1 right;  p4: p3(1), p2(1), p5(2) -> 1 right;  p5: p4(1), p3(1), p2(1) -> 1 wrong
    const r = knnAccuracy(atAngles(ANGLES), LABELS, 2, { k: 3 });
    expect([...r.predictions]).toEqual([1, 1, 0, 1, 1, 1]);
    expect(r.correct).toBe(2);
  });

  it('a three-way tie goes to the nearest; lengths do not matter (cosine); any block size gives the same', () => {
    // q at 0 deg (label 2): b at 20 (label 1), c at 330 (label 0), d at 50 (label 2): one vote each -> b's label 1
    const x = atAngles([0, 20, 330, 50], [1, 7, 0.2, 3]);
    const labels = [2, 1, 0, 2];
    const r = knnAccuracy(x, labels, 2, { k: 3 });
    expect(r.predictions[0]).toBe(1);
    for (const blockRows of [1, 2, 3, 100]) expect([...knnAccuracy(x, labels, 2, { k: 3, blockRows }).predictions]).toEqual([...r.predictions]);
  });

  it('equal similarities rank the lower row first; k is capped at n - 1', () => {
    // rows 1 and 2 are the same direction: for row 0 with k = 1 the tie goes to row 1
    const x = atAngles([0, 40, 40]);
    const r = knnAccuracy(x, [0, 1, 2], 2, { k: 1 });
    expect(r.predictions[0]).toBe(1);
    expect(knnAccuracy(x, [0, 1, 2], 2, { k: 20 }).k).toBe(2);
  });

  it('matches a brute-force leave-one-out 5-NN on random data, blockwise', () => {
    const rng = new Rng('knn-test');
    const n = 61;
    const dim = 5;
    const x = new Float32Array(n * dim).map(() => rng.next() - 0.5);
    const labels = Array.from({ length: n }, () => Math.floor(rng.next() * 4));
    const unit = (i: number) => {
      const v = x.subarray(i * dim, (i + 1) * dim);
      const norm = Math.hypot(...v);
      return [...v].map((t) => t / norm);
    };
    const expected = labels.map((_, i) => {
      const ui = unit(i);
      const ranked = labels
        .map((y, j) => ({ j, y, s: unit(j).reduce((acc, t, d) => acc + t * ui[d], 0) }))
        .filter((o) => o.j !== i)
        .sort((a, b) => b.s - a.s || a.j - b.j)
        .slice(0, 5);
      const votes = [0, 0, 0, 0];
      ranked.forEach((o) => votes[o.y]++);
      const best = Math.max(...votes);
      return ranked.find((o) => votes[o.y] === best)!.y;
    });
    for (const blockRows of [7, 512]) {
      const r = knnAccuracy(x, labels, dim, { k: 5, blockRows });
      expect([...r.predictions]).toEqual(expected);
      expect(r.correct).toBe(expected.filter((y, i) => y === labels[i]).length);
    }
  });

  it('refuses mismatched inputs with a clear error', () => {
    expect(() => knnAccuracy(new Float32Array(6), [0, 1], 2)).toThrow(/Expected 3 labels/);
    expect(() => knnAccuracy(new Float32Array(5), [0, 1], 2)).toThrow(/rows of 2 values/);
    expect(() => knnAccuracy(new Float32Array(4), [0, -1], 2)).toThrow(/at row 1/);
  });
});

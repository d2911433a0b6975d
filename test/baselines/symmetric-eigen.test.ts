import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/rng.js';
import { symmetricEigen } from '../../src/baselines/symmetric-eigen.js';

/** A random orthogonal D x D matrix (rows orthonormal), by Gram-Schmidt on Gaussian rows. */
function randomOrthogonal(D: number, rng: Rng): Float64Array[] {
  const rows: Float64Array[] = [];
  while (rows.length < D) {
    const v = Float64Array.from({ length: D }, () => rng.normal());
    for (let pass = 0; pass < 2; pass++) {
      for (const q of rows) {
        const dot = v.reduce((s, x, i) => s + x * q[i], 0);
        for (let i = 0; i < D; i++) v[i] -= dot * q[i];
      }
    }
    const norm = Math.hypot(...v);
    rows.push(v.map((x) => x / norm));
  }
  return rows;
}

/** A = sum_i lambda_i q_i q_i^T. */
function build(values: number[], Q: Float64Array[]): Float64Array {
  const D = Q[0].length;
  const A = new Float64Array(D * D);
  values.forEach((l, i) => {
    for (let r = 0; r < D; r++) for (let c = 0; c < D; c++) A[r * D + c] += l * Q[i][r] * Q[i][c];
  });
  return A;
}

function residual(A: Float64Array, D: number, lambda: number, v: Float64Array): number {
  let worst = 0;
  for (let r = 0; r < D; r++) {
    let s = 0;
    for (let c = 0; c < D; c++) s += A[r * D + c] * v[c];
    worst = Math.max(worst, Math.abs(s - lambda * v[r]));
  }
  return worst;
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

describe('symmetricEigen', () => {
  it('solves the 2 x 2 example of its doc comment', () => {
    const { values, vectors } = symmetricEigen(Float64Array.of(2, 1, 1, 2), 2, 2, 0);
    expect(values[0]).toBeCloseTo(3, 12);
    expect(values[1]).toBeCloseTo(1, 12);
    expect(vectors[0]).toBeCloseTo(Math.SQRT1_2, 12);
    expect(vectors[1]).toBeCloseTo(Math.SQRT1_2, 12);
  });

  it('recovers known eigenpairs of a hand-built 40 x 40 matrix, including a repeated and negative eigenvalues', () => {
    const D = 40;
    const rng = new Rng(11);
    const Q = randomOrthogonal(D, rng);
    // 10, 7, 7 (repeated), 5, then 4 ... down to -3.5 (negative ones included)
    const values = [10, 7, 7, 5, ...Array.from({ length: D - 4 }, (_, i) => 4 - 0.2 * i)];
    const A = build(values, Q);
    const k = 6;
    const got = symmetricEigen(A, D, k, 3);
    const want = [...values].sort((a, b) => b - a).slice(0, k);
    for (let i = 0; i < k; i++) expect(Math.abs(got.values[i] - want[i])).toBeLessThan(1e-9);
    const v = (i: number) => got.vectors.subarray(i * D, (i + 1) * D);
    for (let i = 0; i < k; i++) {
      expect(Math.abs(dot(v(i), v(i)) - 1)).toBeLessThan(1e-12);
      expect(residual(A, D, got.values[i], v(i))).toBeLessThan(1e-9);
      for (let j = 0; j < i; j++) expect(Math.abs(dot(v(i), v(j)))).toBeLessThan(1e-9);
    }
    // simple eigenvalues: the vector itself (up to sign, fixed by the largest entry being positive)
    for (const [i, q] of [[0, 0], [3, 3], [4, 4], [5, 5]] as const) expect(Math.abs(dot(v(i), Q[q]))).toBeGreaterThan(1 - 1e-9);
    for (let i = 0; i < k; i++) {
      const row = Array.from(v(i));
      const big = row.reduce((b, x, j) => (Math.abs(x) > Math.abs(row[b]) ? j : b), 0);
      expect(row[big]).toBeGreaterThan(0);
    }
    // the repeated eigenvalue 7: vectors 1, 2 span the plane of q1, q2
    for (const i of [1, 2]) expect(dot(v(i), Q[1]) ** 2 + dot(v(i), Q[2]) ** 2).toBeGreaterThan(1 - 1e-9);
  });

  it('is deterministic and handles diagonal, zero and 1 x 1 matrices', () => {
    const D = 30;
    const rng = new Rng(5);
    const Q = randomOrthogonal(D, rng);
    const A = build(Array.from({ length: D }, (_, i) => D - i + rng.next()), Q);
    expect(symmetricEigen(A, D, 5, 9)).toEqual(symmetricEigen(A, D, 5, 9));
    // a different seed changes only rounding
    const a = symmetricEigen(A, D, 3, 1);
    const b = symmetricEigen(A, D, 3, 2);
    for (let i = 0; i < 3 * D; i++) expect(Math.abs(a.vectors[i] - b.vectors[i])).toBeLessThan(1e-9);

    const d3 = new Float64Array(16);
    [4, 9, 1, 9].forEach((x, i) => (d3[i * 4 + i] = x));
    const r = symmetricEigen(d3, 4, 3, 0);
    expect(Array.from(r.values)).toEqual([9, 9, 4]);
    expect(Math.abs(dot(r.vectors.subarray(0, 4), r.vectors.subarray(4, 8)))).toBeLessThan(1e-12);
    expect(r.vectors[0 * 4 + 1] ** 2 + r.vectors[0 * 4 + 3] ** 2).toBeCloseTo(1, 12);
    r.vectors.subarray(8, 12).forEach((x, i) => expect(Math.abs(x - (i === 0 ? 1 : 0))).toBeLessThan(1e-15));

    const zero = symmetricEigen(new Float64Array(9), 3, 3, 0);
    expect(Array.from(zero.values)).toEqual([0, 0, 0]);
    for (let i = 0; i < 3; i++) for (let j = 0; j < i; j++) expect(Math.abs(dot(zero.vectors.subarray(i * 3, i * 3 + 3), zero.vectors.subarray(j * 3, j * 3 + 3)))).toBeLessThan(1e-12);

    expect(symmetricEigen(Float64Array.of(-2.5), 1, 1, 0)).toEqual({ values: Float64Array.of(-2.5), vectors: Float64Array.of(1) });
  });

  it('rejects a bad shape or k', () => {
    expect(() => symmetricEigen(new Float64Array(5), 2, 1)).toThrow(/2 x 2/);
    expect(() => symmetricEigen(new Float64Array(4), 2, 3)).toThrow(/k/);
    expect(() => symmetricEigen(Float64Array.of(1, NaN, NaN, 1), 2, 1)).toThrow(/finite/);
  });
});

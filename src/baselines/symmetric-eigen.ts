import { UsageError } from '../errors.js';
import { Rng } from '../rng.js';

/** The top-k eigenpairs of a symmetric matrix. */
export interface EigenPairs {
  /** k eigenvalues, largest first. */
  values: Float64Array;
  /** k x D row-major: row i is the unit eigenvector of `values[i]`. */
  vectors: Float64Array;
}

/**
 * The k largest (algebraic) eigenvalues of a symmetric D x D matrix and their unit
 * eigenvectors, deterministic and accurate to rounding (residuals ~ 1e-15 x ||A||):
 * 1. Householder reduction to tridiagonal form, A = Q T Q^T (JAMA `tred2`);
 * 2. all eigenvalues of T by implicit QL with Wilkinson shifts (no vectors: O(D^2));
 * 3. an eigenvector of T for each of the top k by inverse iteration with partial pivoting,
 *    from a start vector drawn from `seed`, re-orthogonalised against the vectors of nearby
 *    eigenvalues (so repeated eigenvalues get an orthonormal basis of their eigenspace);
 * 4. back-transformation v = Q y.
 * Each vector's sign is fixed so its largest-magnitude entry (the first, on ties) is positive.
 * Cost O(D^3) once (about 0.6 s at D = 512), memory O(D^2). The input is not modified; only
 * its lower triangle is read.
 *
 * @example
 *   const A = Float64Array.of(2, 1, 1, 2);          // eigenpairs 3: (1, 1)/sqrt 2, 1: (1, -1)/sqrt 2
 *   const { values, vectors } = symmetricEigen(A, 2, 1, 0);
 *   // values = [3], vectors = [0.7071, 0.7071]
 */
export function symmetricEigen(matrix: Float64Array, D: number, k: number, seed = 0): EigenPairs {
  if (!Number.isInteger(D) || D < 1) throw new UsageError(`Expected \`D\` to be an integer from 1 and up, got \`${D}\``);
  if (!Number.isInteger(k) || k < 0 || k > D) throw new UsageError(`Expected \`k\` to be an integer in [0, ${D}], got \`${k}\``);
  if (matrix.length !== D * D) throw new UsageError(`Expected a ${D} x ${D} matrix (${D * D} values), got ${matrix.length} values`);
  for (let i = 0; i < matrix.length; i++) {
    if (!Number.isFinite(matrix[i])) throw new UsageError(`symmetricEigen: entry ${i} of the matrix is ${matrix[i]}, expected a finite number`);
  }
  const Qt = new Float64Array(D * D);
  for (let i = 0; i < D; i++) for (let j = 0; j <= i; j++) Qt[i * D + j] = Qt[j * D + i] = matrix[i * D + j];
  const diag = new Float64Array(D);
  const off = new Float64Array(D);
  tridiagonalize(Qt, D, diag, off);
  // T: diagonal diag[0..D), off-diagonal sub[i] between i and i + 1
  const sub = new Float64Array(Math.max(D - 1, 0));
  for (let i = 1; i < D; i++) sub[i - 1] = off[i];
  const all = tridiagonalEigenvalues(diag, sub);
  const order = Array.from(all.keys()).sort((a, b) => all[b] - all[a] || a - b);
  const values = Float64Array.from(order.slice(0, k), (i) => all[i]);

  let norm = 0;
  for (let i = 0; i < D; i++) norm = Math.max(norm, Math.abs(diag[i]) + (i > 0 ? Math.abs(sub[i - 1]) : 0) + (i < D - 1 ? Math.abs(sub[i]) : 0));
  const rng = new Rng(seed);
  const ys: Float64Array[] = [];
  const vectors = new Float64Array(k * D);
  for (let j = 0; j < k; j++) {
    const near = ys.filter((_, p) => Math.abs(values[p] - values[j]) <= 1e-3 * norm);
    const y = inverseIteration(diag, sub, values[j], norm, near, rng);
    ys.push(y);
    const v = vectors.subarray(j * D, (j + 1) * D);
    for (let c = 0; c < D; c++) {
      const yc = y[c];
      if (yc === 0) continue;
      for (let r = 0; r < D; r++) v[r] += Qt[c * D + r] * yc;
    }
    normalizeAndFixSign(v);
  }
  return { values, vectors };
}

/**
 * Householder reduction of the symmetric matrix in V (row-major n x n, overwritten by Q^T,
 * Q orthogonal) to tridiagonal T = Q^T A Q: diagonal d, sub-diagonal e[1..n) (e[0] = 0).
 * JAMA's `tred2` (public domain, after EISPACK) with V stored transposed, so that its inner
 * loops run along rows.
 */
function tridiagonalize(V: Float64Array, n: number, d: Float64Array, e: Float64Array): void {
  for (let j = 0; j < n; j++) d[j] = V[j * n + n - 1];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = V[j * n + i - 1];
        V[j * n + i] = 0;
        V[i * n + j] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j];
        V[i * n + j] = f;
        g = e[j] + V[j * n + j] * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += V[j * n + k] * d[k];
          e[k] += V[j * n + k] * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        for (let k = j; k <= i - 1; k++) V[j * n + k] -= f * e[k] + g * d[k];
        d[j] = V[j * n + i - 1];
        V[j * n + i] = 0;
      }
    }
    d[i] = h;
  }
  // accumulate the transformations into V
  for (let i = 0; i < n - 1; i++) {
    V[i * n + n - 1] = V[i * n + i];
    V[i * n + i] = 1;
    const h = d[i + 1];
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = V[(i + 1) * n + k] / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += V[(i + 1) * n + k] * V[j * n + k];
        for (let k = 0; k <= i; k++) V[j * n + k] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) V[(i + 1) * n + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = V[j * n + n - 1];
    V[j * n + n - 1] = 0;
  }
  V[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

/**
 * All eigenvalues (unsorted) of the symmetric tridiagonal matrix with diagonal `diag` and
 * sub-diagonal `sub` (length n - 1), by implicit QL with shifts (JAMA `tql2` without vectors).
 */
function tridiagonalEigenvalues(diag: Float64Array, sub: Float64Array): Float64Array {
  const n = diag.length;
  const d = Float64Array.from(diag);
  const e = new Float64Array(n);
  e.set(sub);
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n - 1 && Math.abs(e[m]) > eps * tst1) m++;
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 60) throw new Error(`symmetricEigen: QL iteration did not converge for eigenvalue ${l}`);
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
  return d;
}

/**
 * A unit eigenvector of the tridiagonal T (diagonal `diag`, sub-diagonal `sub`) for the
 * eigenvalue `lambda`: a few steps of inverse iteration (T - lambda I) x_{t+1} = x_t with an
 * LU factorisation of (T - lambda I) / ||T|| with partial pivoting, zero pivots replaced by eps, each step
 * orthogonalised against `near` (the vectors already found for nearby eigenvalues).
 */
function inverseIteration(
  diag: Float64Array,
  sub: Float64Array,
  lambda: number,
  norm: number,
  near: Float64Array[],
  rng: Rng,
): Float64Array {
  const n = diag.length;
  // work on T / ||T||, so that the pivots and the growth of x are scale-free
  const scale = norm > 0 ? 1 / norm : 1;
  const tiny = 2 ** -52;
  // factor P (T - lambda I) = L U; U has diagonal u0 and two super-diagonals u1, u2
  const u0 = new Float64Array(n);
  const u1 = new Float64Array(n);
  const u2 = new Float64Array(n);
  const mult = new Float64Array(n);
  const swap = new Uint8Array(n);
  let dd = (diag[0] - lambda) * scale;
  let cc = n > 1 ? sub[0] * scale : 0;
  for (let i = 0; i < n - 1; i++) {
    const b = sub[i] * scale;
    const nextC = i + 1 < n - 1 ? sub[i + 1] * scale : 0;
    const a1 = (diag[i + 1] - lambda) * scale;
    if (Math.abs(dd) >= Math.abs(b)) {
      const piv = dd === 0 ? tiny : dd;
      const m = b / piv;
      u0[i] = piv;
      u1[i] = cc;
      u2[i] = 0;
      mult[i] = m;
      dd = a1 - m * cc;
      cc = nextC;
    } else {
      const m = dd / b;
      swap[i] = 1;
      u0[i] = b;
      u1[i] = a1;
      u2[i] = nextC;
      mult[i] = m;
      dd = cc - m * a1;
      cc = -m * nextC;
    }
  }
  u0[n - 1] = dd;
  for (let i = 0; i < n; i++) if (Math.abs(u0[i]) < tiny) u0[i] = u0[i] < 0 ? -tiny : tiny;

  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = rng.uniform(-1, 1);
  orthogonalize(x, near);
  scaleToMaxOne(x);
  for (let step = 0; step < 4; step++) {
    for (let i = 0; i < n - 1; i++) {
      if (swap[i]) {
        const t = x[i];
        x[i] = x[i + 1];
        x[i + 1] = t;
      }
      x[i + 1] -= mult[i] * x[i];
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = x[i];
      if (i + 1 < n) s -= u1[i] * x[i + 1];
      if (i + 2 < n) s -= u2[i] * x[i + 2];
      x[i] = s / u0[i];
    }
    scaleToMaxOne(x);
    orthogonalize(x, near);
    scaleToMaxOne(x);
  }
  normalizeAndFixSign(x);
  return x;
}

/** Gram-Schmidt (twice, for stability) against unit vectors. */
function orthogonalize(x: Float64Array, basis: Float64Array[]): void {
  for (let pass = 0; pass < 2; pass++) {
    for (const q of basis) {
      let dot = 0;
      for (let i = 0; i < x.length; i++) dot += x[i] * q[i];
      for (let i = 0; i < x.length; i++) x[i] -= dot * q[i];
    }
  }
}

function scaleToMaxOne(x: Float64Array): void {
  let max = 0;
  for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i]));
  if (!Number.isFinite(max)) throw new Error('symmetricEigen: inverse iteration overflowed');
  if (max === 0) {
    x[0] = 1;
    return;
  }
  for (let i = 0; i < x.length; i++) x[i] /= max;
}

/** Scales to unit length; flips the sign so the largest-magnitude entry (first on ties) is positive. */
function normalizeAndFixSign(v: Float64Array): void {
  let ss = 0;
  let big = 0;
  for (let i = 0; i < v.length; i++) {
    ss += v[i] * v[i];
    if (Math.abs(v[i]) > Math.abs(v[big])) big = i;
  }
  const s = (v[big] < 0 ? -1 : 1) / Math.sqrt(ss);
  for (let i = 0; i < v.length; i++) v[i] *= s;
}

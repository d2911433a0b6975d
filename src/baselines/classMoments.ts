import { UsageError } from '../errors.js';
import { embeddingPass, type EmbeddingReader } from './embeddingChunk.js';

/** Per-class mean and covariance of h, in float64. */
export interface ClassMoments {
  K: number;
  D: number;
  /** Rows per class (rows with a negative label are not counted). */
  n: number[];
  /** Per class: the mean of h (D values; zeros for an empty class). */
  mean: Float64Array[];
  /** Per class: the covariance of h (D x D, row-major, divided by n), or null for an empty class. */
  cov: (Float64Array | null)[];
  /** Passes over the stream. */
  passes: number;
}

/**
 * Mean and covariance of h per class from two passes over the stream: the first sums h,
 * the second sums the outer products of the centred rows (h - mu_c), upper triangle only, in
 * float64 and in row order, so the result does not depend on how the stream is chunked.
 * Memory O(K x D^2) (a D x D matrix for each class that has rows); no per-row storage.
 *
 * @example
 *   const m = await computeClassMoments(read, 10, 512);
 *   m.cov[3]; // Float64Array(512 * 512), the covariance of class 3
 */
export async function computeClassMoments(read: EmbeddingReader, K: number, D: number): Promise<ClassMoments> {
  if (!Number.isInteger(K) || K < 1) throw new UsageError(`Expected \`K\` to be an integer from 1 and up, got \`${K}\``);
  if (!Number.isInteger(D) || D < 1) throw new UsageError(`Expected \`D\` to be an integer from 1 and up, got \`${D}\``);
  const n = new Array<number>(K).fill(0);
  const mean = Array.from({ length: K }, () => new Float64Array(D));
  for await (const { chunk } of embeddingPass(read, K, D)) {
    for (let i = 0; i < chunk.n; i++) {
      const y = chunk.labels[i];
      if (y < 0) continue;
      n[y] += 1;
      const m = mean[y];
      for (let d = 0, o = i * D; d < D; d++, o++) m[d] += chunk.h[o];
    }
  }
  for (let c = 0; c < K; c++) if (n[c] > 0) for (let d = 0; d < D; d++) mean[c][d] /= n[c];

  const cov = n.map((count) => (count > 0 ? new Float64Array(D * D) : null));
  const x = new Float64Array(D);
  let seen = 0;
  for await (const { chunk } of embeddingPass(read, K, D)) {
    for (let i = 0; i < chunk.n; i++) {
      const y = chunk.labels[i];
      if (y < 0) continue;
      const S = cov[y];
      if (!S) throw new Error(`computeClassMoments: the stream changed between passes (class ${y} was empty)`);
      seen += 1;
      const m = mean[y];
      for (let d = 0, o = i * D; d < D; d++, o++) x[d] = chunk.h[o] - m[d];
      for (let a = 0; a < D; a++) {
        const xa = x[a];
        if (xa === 0) continue;
        const row = a * D;
        for (let b = a; b < D; b++) S[row + b] += xa * x[b];
      }
    }
  }
  const total = n.reduce((s, v) => s + v, 0);
  if (seen !== total) throw new Error(`computeClassMoments: the stream changed between passes (${seen} rows, expected ${total})`);
  cov.forEach((S, c) => {
    if (!S) return;
    for (let a = 0; a < D; a++) {
      for (let b = a; b < D; b++) {
        const v = S[a * D + b] / n[c];
        S[a * D + b] = v;
        S[b * D + a] = v;
      }
    }
  });
  return { K, D, n, mean, cov, passes: 2 };
}

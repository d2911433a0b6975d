import { UsageError } from '../errors.js';
import { embeddingPass, type EmbeddingReader } from './embedding-chunk.js';

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

/** Rows per rank-k covariance update. */
const BATCH = 32;

/**
 * Mean and covariance of h per class from two passes over the stream: the first sums h,
 * the second sums the outer products of the centred rows (h - mu_c), upper triangle only, in
 * float64, as rank-32 updates of each class's rows in stream order, so the result does not
 * depend on how the stream is chunked. Memory O(K x D^2) (a D x D matrix and a 32-row
 * buffer for each class that has rows); no per-row storage.
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
  // centred rows are buffered per class, transposed (D x BATCH), and added as a rank-BATCH
  // update: each covariance entry is touched once per BATCH rows of its class. Batches fill in
  // stream order, so the sums do not depend on the chunking.
  const buffers = n.map((count) => (count > 0 ? new Float64Array(D * BATCH) : null));
  const filled = new Array<number>(K).fill(0);
  let seen = 0;
  for await (const { chunk } of embeddingPass(read, K, D)) {
    for (let i = 0; i < chunk.n; i++) {
      const y = chunk.labels[i];
      if (y < 0) continue;
      const buf = buffers[y];
      if (!buf) throw new Error(`computeClassMoments: the stream changed between passes (class ${y} was empty)`);
      seen += 1;
      const m = mean[y];
      const r = filled[y];
      for (let d = 0, o = i * D; d < D; d++, o++) buf[d * BATCH + r] = chunk.h[o] - m[d];
      filled[y] = r + 1;
      if (r + 1 === BATCH) {
        addScatter(cov[y]!, buf, D, BATCH);
        filled[y] = 0;
      }
    }
  }
  filled.forEach((rows, c) => {
    if (rows > 0) addScatter(cov[c]!, buffers[c]!, D, rows);
  });
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

/** S[a][b] += sum over r < rows of X[a][r] X[b][r] for b >= a; X is D x BATCH (row-major). */
function addScatter(S: Float64Array, X: Float64Array, D: number, rows: number): void {
  for (let a = 0; a < D; a++) {
    const xa = a * BATCH;
    const out = a * D;
    for (let b = a; b < D; b++) {
      const xb = b * BATCH;
      let s = 0;
      for (let r = 0; r < rows; r++) s += X[xa + r] * X[xb + r];
      S[out + b] += s;
    }
  }
}

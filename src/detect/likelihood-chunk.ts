import { InputError } from '../errors.js';

/**
 * A chunk of rows of the N x K log-likelihood matrix as the pipeline streams it.
 * `L` is row-major `n x K` (per-dimension log-likelihoods, docs/method.md step 3), `labels`
 * holds the (possibly poisoned) training label of each row. A row's global index is its
 * position in the stream: the first row of the first chunk is row 0.
 *
 * @example
 *   const chunk: LikelihoodChunk = { n: 2, labels: Int32Array.of(0, 1), L: Float32Array.of(-0.5, -0.9, -1.2, -0.4) };
 */
export interface LikelihoodChunk {
  labels: Int32Array;
  /** n x K, row-major. */
  L: Float32Array;
  n: number;
}

/** Something that can be read from the start again, any number of times. */
export type ChunkReader = () => AsyncIterable<LikelihoodChunk>;

/**
 * Check that a chunk is consistent with K classes; throws
 * `InputError` naming the first bad row (label outside [0, K), non-finite log-likelihood).
 *
 * @example
 *   checkChunk(chunk, 10, 5000); // rows 5000.. of the stream
 */
export function checkChunk(chunk: LikelihoodChunk, K: number, rowIndex0: number): void {
  const { labels, L, n } = chunk;
  if (!Number.isInteger(n) || n < 0 || labels.length < n || L.length < n * K) {
    throw new InputError(
      `likelihood chunk at row ${rowIndex0}: n = ${n} does not fit labels (${labels.length}) and L (${L.length} values for K = ${K})`,
    );
  }
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (y < 0 || y >= K) {
      throw new InputError(`row ${rowIndex0 + i}: label ${y} outside [0, ${K})`);
    }
    const o = i * K;
    for (let c = 0; c < K; c++) {
      if (!Number.isFinite(L[o + c])) {
        throw new InputError(`row ${rowIndex0 + i}: log-likelihood for class ${c} is ${L[o + c]}, expected a finite number`);
      }
    }
  }
}

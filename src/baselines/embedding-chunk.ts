import { InputError } from '../errors.js';

/**
 * A chunk of rows of the embedding cache as the baselines stream it: `h` is row-major
 * n x D (the encoder output, docs/method.md step 1), `labels` the (possibly poisoned) training
 * label of each row. A row's global index is its position in the stream (the first row of
 * the first chunk is row 0). A negative label marks a row that takes no part (a rejected
 * row): the fits skip it, but it still counts for the row index.
 *
 * @example
 *   const chunk: EmbeddingChunk = { n: 2, labels: Int32Array.of(0, 1), h: Float32Array.of(0.1, -2, 0.5, 0.3) }; // D = 2
 */
export interface EmbeddingChunk {
  /** n x D, row-major. */
  h: Float32Array;
  labels: Int32Array;
  n: number;
}

/** Something that streams the embedding cache from its start again, any number of times. */
export type EmbeddingReader = () => AsyncIterable<EmbeddingChunk>;

/**
 * Checks a chunk against K classes and D dimensions; throws `InputError` naming the first bad
 * row (label >= K, non-finite h of a row that takes part).
 *
 * @example
 *   checkEmbeddingChunk(chunk, 10, 512, 4096); // the chunk holds rows 4096..
 */
export function checkEmbeddingChunk(chunk: EmbeddingChunk, K: number, D: number, rowIndex0: number): void {
  const { h, labels, n } = chunk;
  if (!Number.isInteger(n) || n < 0 || labels.length < n || h.length < n * D) {
    throw new InputError(`embedding chunk at row ${rowIndex0}: n = ${n} does not fit labels (${labels.length}) and h (${h.length} values for D = ${D})`);
  }
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (y < 0) continue;
    if (y >= K) throw new InputError(`row ${rowIndex0 + i}: label ${y} outside [0, ${K})`);
    for (let d = i * D; d < (i + 1) * D; d++) {
      if (!Number.isFinite(h[d])) throw new InputError(`row ${rowIndex0 + i}: h[${d - i * D}] is ${h[d]}, expected a finite number`);
    }
  }
}

/**
 * One checked pass over the stream: yields every chunk with the global index of its first row.
 *
 * @example
 *   for await (const { chunk, row0 } of embeddingPass(read, K, D)) {
 *     for (let i = 0; i < chunk.n; i++) use(chunk.h.subarray(i * D, (i + 1) * D), chunk.labels[i], row0 + i);
 *   }
 */
export async function* embeddingPass(read: EmbeddingReader, K: number, D: number): AsyncGenerator<{ chunk: EmbeddingChunk; row0: number }> {
  let row0 = 0;
  for await (const chunk of read()) {
    checkEmbeddingChunk(chunk, K, D, row0);
    yield { chunk, row0 };
    row0 += chunk.n;
  }
}

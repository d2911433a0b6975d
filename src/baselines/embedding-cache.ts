import { readMatrix } from '../io/matrix-file.js';
import type { EmbeddingReader } from './embedding-chunk.js';

/**
 * An `EmbeddingReader` over the cleanse pipeline's embedding cache (a `MatrixWriter` file of
 * D + 1 float32 columns per row: h, then the label, -1 for a rejected row). Every call reads
 * the file again from row 0; rejected rows keep their label -1 (the baselines skip them), so
 * row indices are the cache's.
 *
 * @example
 *   const read = embeddingCacheReader('out/work/embeddings.f32', 512);
 *   const model = await fitSpectral(read, 10, 512);
 */
export function embeddingCacheReader(path: string, D: number, { chunkRows = 4096 }: { chunkRows?: number } = {}): EmbeddingReader {
  return async function* () {
    for await (const { rows, n } of readMatrix(path, D + 1, { chunkRows })) {
      const h = new Float32Array(n * D);
      const labels = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        h.set(rows.subarray(i * (D + 1), i * (D + 1) + D), i * D);
        labels[i] = rows[i * (D + 1) + D];
      }
      yield { h, labels, n };
    }
  };
}

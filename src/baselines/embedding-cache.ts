import { embeddingReader } from '../io/work-files.js';
import type { EmbeddingReader } from './embedding-chunk.js';

/**
 * An `EmbeddingReader` over the cleanse pipeline's embedding cache (the layout of
 * src/io/work-files.ts: D + 1 float32 columns per row, h then the label, -1 for a rejected
 * row). Every call reads the file again from row 0; rejected rows keep their label -1 (the
 * baselines skip them), so row indices are the cache's.
 *
 * @example
 *   const read = embeddingCacheReader('out/work/embeddings.f32', 512);
 *   const model = await fitSpectral(read, 10, 512);
 */
export function embeddingCacheReader(path: string, D: number, options: { chunkRows?: number } = {}): EmbeddingReader {
  return embeddingReader(path, D, options);
}

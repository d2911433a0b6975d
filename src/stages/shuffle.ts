import { open } from 'node:fs/promises';
import { readMatrixRows } from '../io/matrix-file.js';
import { Rng } from '../rng.js';

/** A shuffled minibatch of cache rows: n x cols values with their row indices. */
export interface ShuffledChunk {
  n: number;
  rows: Float32Array;
  index: Int32Array;
}

/**
 * One epoch over an on-disk matrix in a seeded random order, in bounded memory: blocks of
 * `blockRows` consecutive rows are visited in a random order, `windowBlocks` at a time, and
 * the rows of a window are shuffled together. Memory: windowBlocks x blockRows rows.
 *
 * @example
 *   for await (const c of shuffledEpoch('h.f32', 512, rows, new Rng(7))) flows.update(c.rows, ...);
 */
export async function* shuffledEpoch(
  path: string,
  cols: number,
  totalRows: number,
  rng: Rng,
  { blockRows = 256, windowBlocks = 32 }: { blockRows?: number; windowBlocks?: number } = {},
): AsyncGenerator<ShuffledChunk> {
  const blocks = Math.ceil(totalRows / blockRows);
  const order = rng.shuffle(Array.from({ length: blocks }, (_, i) => i));
  const fh = await open(path, 'r');
  try {
    for (let w = 0; w < blocks; w += windowBlocks) {
      const picked = order.slice(w, w + windowBlocks);
      const parts: { start: number; n: number; rows: Float32Array }[] = [];
      for (const b of picked) {
        const start = b * blockRows;
        const n = Math.min(blockRows, totalRows - start);
        parts.push({ start, n, rows: await readMatrixRows(fh, cols, start, n) });
      }
      const n = parts.reduce((s, p) => s + p.n, 0);
      const where: [number, number][] = [];
      parts.forEach((p, pi) => {
        for (let i = 0; i < p.n; i++) where.push([pi, i]);
      });
      rng.shuffle(where);
      const rows = new Float32Array(n * cols);
      const index = new Int32Array(n);
      where.forEach(([pi, i], k) => {
        const p = parts[pi];
        rows.set(p.rows.subarray(i * cols, (i + 1) * cols), k * cols);
        index[k] = p.start + i;
      });
      yield { n, rows, index };
    }
  } finally {
    await fh.close();
  }
}

import { readMatrix, type MatrixChunk } from './matrix-file.js';

/**
 * Reads consecutive rows of a matrix file n at a time, whatever the chunking: for passes
 * that walk the input and a per-row matrix in lockstep.
 *
 * @example
 *   const cursor = new MatrixCursor('work/likelihood.f32', 11, 5000);
 *   const rows = await cursor.take(batch.numRows);   // batch.numRows x 11
 *   await cursor.close();
 */
export class MatrixCursor {
  private readonly chunks: AsyncGenerator<MatrixChunk>;
  private current: MatrixChunk | null = null;
  private offset = 0;

  constructor(path: string, readonly cols: number, start = 0) {
    this.chunks = readMatrix(path, cols, { start, chunkRows: 8192 });
  }

  async take(n: number): Promise<Float32Array> {
    const out = new Float32Array(n * this.cols);
    let filled = 0;
    while (filled < n) {
      if (!this.current || this.offset >= this.current.n) {
        const next = await this.chunks.next();
        if (next.done) throw new Error(`matrix file ended ${n - filled} rows early`);
        this.current = next.value;
        this.offset = 0;
      }
      const k = Math.min(n - filled, this.current.n - this.offset);
      out.set(this.current.rows.subarray(this.offset * this.cols, (this.offset + k) * this.cols), filled * this.cols);
      this.offset += k;
      filled += k;
    }
    return out;
  }

  async close(): Promise<void> {
    await this.chunks.return(undefined);
  }
}

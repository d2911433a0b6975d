import { open, stat, type FileHandle } from 'node:fs/promises';

/**
 * A row-major on-disk matrix of float32 (or int32) values with a fixed number of columns:
 * the embedding cache (rows x D) and the likelihood matrix (rows x K) of a cleanse run.
 * Rows are appended in order; reads stream fixed-size chunks, so no pass holds the matrix.
 *
 * @example
 *   const w = await MatrixWriter.open('work/h.f32', 512);
 *   await w.append(rowsFloat32);        // length = n * 512
 *   await w.close();
 *   for await (const { rows, start, n } of readMatrix('work/h.f32', 512, { chunkRows: 4096 })) { ... }
 */
export class MatrixWriter {
  private buffered: Float32Array[] = [];
  private bufferedRows = 0;

  private constructor(
    private readonly fh: FileHandle,
    readonly cols: number,
    private rowsWritten: number,
    private readonly flushRows: number,
  ) {}

  /**
   * Opens for appending. `keepRows` (for resume) truncates the file to that many rows first;
   * without it the file starts empty.
   */
  static async open(path: string, cols: number, { keepRows = 0, flushRows = 4096 } = {}): Promise<MatrixWriter> {
    const fh = await open(path, keepRows > 0 ? 'r+' : 'w');
    const bytes = keepRows * cols * 4;
    if (keepRows > 0) {
      const size = (await fh.stat()).size;
      if (size < bytes) {
        await fh.close();
        throw new Error(`${path}: has ${Math.floor(size / (cols * 4))} rows, the checkpoint needs ${keepRows}`);
      }
    }
    await fh.truncate(bytes);
    return new MatrixWriter(fh, cols, keepRows, flushRows);
  }

  get rows(): number {
    return this.rowsWritten + this.bufferedRows;
  }

  /** Appends rows (values.length must be a multiple of cols). The array is copied. */
  async append(values: Float32Array | Int32Array): Promise<void> {
    if (values.length % this.cols !== 0) throw new Error(`append: ${values.length} values is not a multiple of ${this.cols} columns`);
    const copy = new Float32Array(values.length);
    copy.set(new Float32Array(values.buffer, values.byteOffset, values.length));
    this.buffered.push(copy);
    this.bufferedRows += values.length / this.cols;
    if (this.bufferedRows >= this.flushRows) await this.flush();
  }

  /** Writes buffered rows and fsyncs: after it, `rows` rows are durable. */
  async flush(): Promise<void> {
    if (this.bufferedRows > 0) {
      const bytes = Buffer.concat(this.buffered.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)));
      await this.fh.write(bytes, 0, bytes.length, this.rowsWritten * this.cols * 4);
      this.rowsWritten += this.bufferedRows;
      this.buffered = [];
      this.bufferedRows = 0;
    }
    await this.fh.sync();
  }

  async close(): Promise<void> {
    await this.flush();
    await this.fh.close();
  }
}

/** A chunk of consecutive matrix rows: `rows` holds n x cols values, the first is row `start`. */
export interface MatrixChunk {
  start: number;
  n: number;
  rows: Float32Array;
}

/** Number of complete rows in a matrix file. */
export async function matrixRows(path: string, cols: number): Promise<number> {
  return Math.floor((await stat(path)).size / (cols * 4));
}

/**
 * Streams a matrix file in chunks of `chunkRows` rows from row `start` (default 0) to `end`
 * (default: all complete rows).
 */
export async function* readMatrix(
  path: string,
  cols: number,
  { chunkRows = 4096, start = 0, end }: { chunkRows?: number; start?: number; end?: number } = {},
): AsyncGenerator<MatrixChunk> {
  const fh = await open(path, 'r');
  try {
    const total = Math.floor((await fh.stat()).size / (cols * 4));
    const last = Math.min(end ?? total, total);
    for (let row = start; row < last; row += chunkRows) {
      const n = Math.min(chunkRows, last - row);
      const rows = new Float32Array(n * cols);
      const view = Buffer.from(rows.buffer);
      let got = 0;
      while (got < view.length) {
        const { bytesRead } = await fh.read(view, got, view.length - got, row * cols * 4 + got);
        if (bytesRead === 0) throw new Error(`${path}: ended early at row ${row}`);
        got += bytesRead;
      }
      yield { start: row, n, rows };
    }
  } finally {
    await fh.close();
  }
}

/** Reads rows [start, start + n) at once: for random access in bounded blocks. */
export async function readMatrixRows(fh: FileHandle, cols: number, start: number, n: number): Promise<Float32Array> {
  const rows = new Float32Array(n * cols);
  const view = Buffer.from(rows.buffer);
  let got = 0;
  while (got < view.length) {
    const { bytesRead } = await fh.read(view, got, view.length - got, start * cols * 4 + got);
    if (bytesRead === 0) throw new Error(`matrix file ended early at row ${start}`);
    got += bytesRead;
  }
  return rows;
}

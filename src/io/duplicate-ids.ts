/**
 * Exact duplicate-id counting in bounded memory, for any number of rows: the ids go to an
 * append-only file (8 bytes a row, truncated to the last checkpoint on resume), which is then
 * sorted externally (runs of `runRows` ids sorted in memory and spilled, then one k-way
 * merge) while counting equal neighbours. Memory stays at one run (32 MB by default) plus a
 * small read buffer per run, whatever the row count; a billion rows need 8 GB of scratch disk
 * next to the embedding cache and ~250 runs. Chosen over a Bloom filter because it is exact
 * in one pass with no false positives to confirm, and deterministic.
 */
import { open, rm, truncate, type FileHandle } from 'node:fs/promises';

/** Duplicate ids found: rows that repeat an earlier row's id, how many ids repeat, the smallest few. */
export interface DuplicateIds {
  /** Rows whose id an earlier row already had (a value seen 3 times counts 2). */
  rows: number;
  /** Distinct ids that occur more than once. */
  ids: number;
  /** Up to 5 of those ids, smallest first (decimal strings). */
  examples: string[];
}

/**
 * Appends int64 ids to a file, resumable: `keepRows` truncates it to the rows of the last checkpoint.
 *
 * @example
 *   const log = await IdLog.open('work/ids.i64', { keepRows: state.rowsDone });
 *   log.append(ids); await log.flush(); await log.close();
 */
export class IdLog {
  private pending: BigInt64Array[] = [];

  private constructor(private readonly file: FileHandle, private position: number) {}

  static async open(path: string, { keepRows }: { keepRows: number }): Promise<IdLog> {
    const file = await open(path, keepRows > 0 ? 'r+' : 'w').catch(async (err) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return open(path, 'w');
      throw err;
    });
    const size = (await file.stat()).size;
    if (size < keepRows * 8) {
      await file.close();
      throw new Error(`${path}: holds ${size / 8} ids, the checkpoint needs ${keepRows}`);
    }
    await truncate(path, keepRows * 8);
    return new IdLog(file, keepRows * 8);
  }

  append(ids: BigInt64Array): void {
    this.pending.push(ids.slice());
  }

  async flush(): Promise<void> {
    for (const ids of this.pending) {
      const bytes = new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength);
      await this.file.write(bytes, 0, bytes.length, this.position);
      this.position += bytes.length;
    }
    this.pending = [];
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}

/**
 * Counts the duplicate ids of an id file written by {@link IdLog} (see the module comment).
 * Spill files go next to it and are removed.
 *
 * @example
 *   const dup = await countDuplicateIds('work/ids.i64');   // { rows: 2, ids: 1, examples: ['17'] }
 */
export async function countDuplicateIds(path: string, { runRows = 1 << 22 }: { runRows?: number } = {}): Promise<DuplicateIds> {
  const file = await open(path, 'r');
  const runs: string[] = [];
  try {
    const total = Math.floor((await file.stat()).size / 8);
    if (total <= runRows) {
      const ids = await readIds(file, 0, total);
      ids.sort();
      const counter = new DuplicateCounter();
      for (const id of ids) counter.add(id);
      return counter.result();
    }
    for (let start = 0; start < total; start += runRows) {
      const ids = await readIds(file, start, Math.min(runRows, total - start));
      ids.sort();
      const run = `${path}.run-${runs.length}`;
      runs.push(run);
      const out = await open(run, 'w');
      try {
        await out.write(new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength));
      } finally {
        await out.close();
      }
    }
    return await mergeRuns(runs);
  } finally {
    await file.close();
    for (const run of runs) await rm(run, { force: true });
  }
}

async function readIds(file: FileHandle, start: number, count: number): Promise<BigInt64Array> {
  const ids = new BigInt64Array(count);
  const bytes = new Uint8Array(ids.buffer);
  let done = 0;
  while (done < bytes.length) {
    const { bytesRead } = await file.read(bytes, done, bytes.length - done, start * 8 + done);
    if (bytesRead === 0) throw new Error('id file shorter than its size');
    done += bytesRead;
  }
  return ids;
}

class DuplicateCounter {
  private prev: bigint | null = null;
  private run = 0;
  private rows = 0;
  private ids = 0;
  private readonly examples: string[] = [];

  add(id: bigint): void {
    if (id === this.prev) {
      this.rows++;
      if (++this.run === 2) {
        this.ids++;
        if (this.examples.length < 5) this.examples.push(id.toString());
      }
    } else {
      this.prev = id;
      this.run = 1;
    }
  }

  result(): DuplicateIds {
    return { rows: this.rows, ids: this.ids, examples: this.examples };
  }
}

/** A sorted run read through a small buffer. */
class RunReader {
  private buf: BigInt64Array = new BigInt64Array(0);
  private at = 0;
  private offset = 0;

  private constructor(private readonly file: FileHandle, private readonly total: number, private readonly chunk: number) {}

  static async open(path: string, chunk: number): Promise<RunReader> {
    const file = await open(path, 'r');
    return new RunReader(file, Math.floor((await file.stat()).size / 8), chunk);
  }

  /** The next id, or null at the end. */
  async next(): Promise<bigint | null> {
    if (this.at === this.buf.length) {
      if (this.offset >= this.total) return null;
      const n = Math.min(this.chunk, this.total - this.offset);
      this.buf = await readIds(this.file, this.offset, n);
      this.offset += n;
      this.at = 0;
    }
    return this.buf[this.at++];
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

async function mergeRuns(paths: string[]): Promise<DuplicateIds> {
  // ~32 MB of read buffers in all, at least 1024 ids per run
  const chunk = Math.max(1024, Math.floor((1 << 22) / paths.length));
  const readers = await Promise.all(paths.map((p) => RunReader.open(p, chunk)));
  try {
    // a binary min-heap of [id, reader index]
    const heap: [bigint, number][] = [];
    const push = (item: [bigint, number]) => {
      heap.push(item);
      for (let i = heap.length - 1; i > 0; ) {
        const parent = (i - 1) >> 1;
        if (heap[parent][0] <= heap[i][0]) break;
        [heap[parent], heap[i]] = [heap[i], heap[parent]];
        i = parent;
      }
    };
    const pop = (): [bigint, number] => {
      const top = heap[0];
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        for (let i = 0; ; ) {
          const l = 2 * i + 1;
          const r = l + 1;
          let m = i;
          if (l < heap.length && heap[l][0] < heap[m][0]) m = l;
          if (r < heap.length && heap[r][0] < heap[m][0]) m = r;
          if (m === i) break;
          [heap[m], heap[i]] = [heap[i], heap[m]];
          i = m;
        }
      }
      return top;
    };
    for (let k = 0; k < readers.length; k++) {
      const id = await readers[k].next();
      if (id !== null) push([id, k]);
    }
    const counter = new DuplicateCounter();
    while (heap.length > 0) {
      const [id, k] = pop();
      counter.add(id);
      const next = await readers[k].next();
      if (next !== null) push([next, k]);
    }
    return counter.result();
  } finally {
    await Promise.all(readers.map((r) => r.close()));
  }
}

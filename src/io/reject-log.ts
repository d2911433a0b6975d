import { createReadStream } from 'node:fs';
import { open, rename, stat, type FileHandle } from 'node:fs/promises';
import { createInterface } from 'node:readline';

/** One row that could not be used, and why. */
export interface RejectEntry {
  row: number;
  reason: string;
}

/**
 * An append-only JSON-lines log of rejected rows (global row index + reason), written in
 * row order during the embed pass and read back in lockstep by the route pass.
 *
 * @example
 *   const log = await RejectLog.open('work/rejected.jsonl', { keepBelowRow: 0 });
 *   await log.add(17, 'undecodable image: not PNG or JPEG');
 *   await log.close();
 *   for await (const e of readRejects('work/rejected.jsonl')) console.log(e.row, e.reason);
 */
export class RejectLog {
  private pending: string[] = [];

  private constructor(private readonly fh: FileHandle) {}

  /** Opens for appending, first dropping entries with row >= keepBelowRow (resume). */
  static async open(path: string, { keepBelowRow = 0 }: { keepBelowRow?: number } = {}): Promise<RejectLog> {
    if (keepBelowRow > 0 && (await exists(path))) {
      const tmp = `${path}.trim`;
      const out = await open(tmp, 'w');
      for await (const e of readRejects(path)) if (e.row < keepBelowRow) await out.write(JSON.stringify(e) + '\n');
      await out.close();
      await rename(tmp, path);
      return new RejectLog(await open(path, 'a'));
    }
    return new RejectLog(await open(path, 'w'));
  }

  add(row: number, reason: string): void {
    this.pending.push(JSON.stringify({ row, reason }) + '\n');
  }

  /** Writes what was added and fsyncs. */
  async flush(): Promise<void> {
    if (this.pending.length) {
      await this.fh.write(this.pending.join(''));
      this.pending = [];
    }
    await this.fh.sync();
  }

  async close(): Promise<void> {
    await this.flush();
    await this.fh.close();
  }
}

/** Streams a reject log in row order. */
export async function* readRejects(path: string): AsyncGenerator<RejectEntry> {
  if (!(await exists(path))) return;
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  try {
    for await (const line of lines) if (line.trim()) yield JSON.parse(line) as RejectEntry;
  } finally {
    lines.close();
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}


/**
 * A digest of a cleanse run's output rows, to check that two runs (e.g. `--engine local` and
 * `--engine bullmq`) wrote the same rows: every row's split, id, label, score and reason, split
 * by split in part order, hashed as it streams by (constant memory).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readBatches } from '../../src/io/read.js';

export interface OutputDigest {
  /** sha256 of the rows, hex. */
  sha256: string;
  rows: number;
  /** Rows per split. */
  splits: Record<string, number>;
}

const SPLITS = ['clean', 'poisoned', 'uncertain', 'rejected'];

/**
 * The digest of the rows under a cleanse run directory.
 *
 * @example
 *   const a = await outputDigest('runs/local'), b = await outputDigest('runs/bullmq-2');
 *   a.sha256 === b.sha256   // same rows, same order
 */
export async function outputDigest(runDir: string): Promise<OutputDigest> {
  const hash = createHash('sha256');
  const splits: Record<string, number> = {};
  let rows = 0;
  for (const split of SPLITS) {
    splits[split] = 0;
    const dir = join(runDir, split);
    if (!existsSync(dir)) continue;
    const files = (await readdir(dir)).filter((f) => f.endsWith('.parquet')).sort().map((f) => join(dir, f));
    if (!files.length) continue;
    for await (const b of readBatches(files, { requireImage: false })) {
      const cols = ['gssd_split', 'id', 'gssd_label', 'gssd_score', 'gssd_reason'].map((c) => {
        const v = b.getChild(c);
        if (!v) throw new Error(`${dir}: no ${c} column`);
        return v;
      });
      for (let i = 0; i < b.numRows; i++) hash.update(cols.map((c) => String(c.get(i))).join('\t') + '\n');
      splits[split] += b.numRows;
      rows += b.numRows;
    }
  }
  return { sha256: hash.digest('hex'), rows, splits };
}

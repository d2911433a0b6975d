import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { countDuplicateIds, IdLog } from '../../src/io/duplicate-ids.js';
import { Rng } from '../../src/rng.js';
import { tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir()));
afterAll(() => cleanup());

/** The same counts the slow way, all in memory. */
function expected(ids: bigint[]) {
  const seen = new Map<bigint, number>();
  for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
  const repeated = [...seen].filter(([, n]) => n > 1).map(([id]) => id).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { rows: ids.length - seen.size, ids: repeated.length, examples: repeated.slice(0, 5).map(String) };
}

describe('duplicate ids', () => {
  it('counts exactly through sorted spill runs and a k-way merge (and in one run), leaving no scratch files', async () => {
    const rng = new Rng(3);
    // ids over a range smaller than the row count, negatives and int64 extremes included
    const ids = Array.from({ length: 5000 }, () => BigInt(Math.floor(rng.next() * 20000) - 10000));
    ids.push(-(2n ** 63n), 2n ** 63n - 1n, -(2n ** 63n));
    const path = join(dir, 'ids.i64');
    const log = await IdLog.open(path, { keepRows: 0 });
    for (let i = 0; i < ids.length; i += 700) log.append(BigInt64Array.from(ids.slice(i, i + 700)));
    await log.flush();
    await log.close();
    const want = expected(ids);
    expect(want.rows).toBeGreaterThan(100);
    expect(await countDuplicateIds(path, { runRows: 333 })).toEqual(want); // 16 runs merged
    expect(await countDuplicateIds(path)).toEqual(want); // one run in memory
    expect((await readdir(dir)).filter((n) => n.includes('.run-'))).toEqual([]);
    expect(want.examples[0]).toBe(String(-(2n ** 63n)));
  });

  it('resumes: the log is cut back to the checkpoint\'s rows and goes on from there', async () => {
    const path = join(dir, 'resume.i64');
    const first = await IdLog.open(path, { keepRows: 0 });
    first.append(BigInt64Array.from([1n, 2n, 3n]));
    await first.flush();
    first.append(BigInt64Array.from([9n, 9n])); // written after the checkpoint, then a crash
    await first.flush();
    await first.close();
    const again = await IdLog.open(path, { keepRows: 3 });
    again.append(BigInt64Array.from([4n, 2n]));
    await again.flush();
    await again.close();
    expect(await countDuplicateIds(path)).toEqual({ rows: 1, ids: 1, examples: ['2'] });
    await expect(IdLog.open(join(dir, 'missing.i64'), { keepRows: 5 })).rejects.toThrow(/the checkpoint needs 5/);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { InputError } from '../../src/errors.js';
import { resolveInputs } from '../../src/io/inputs.js';
import { tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  for (const rel of ['a/x-2.parquet', 'a/x-1.parquet', 'a/notes.txt', 'a/deep/y.parquet', 'a/deep/deeper/z.parquet', 'b.parquet']) {
    await mkdir(join(dir, rel, '..'), { recursive: true });
    await writeFile(join(dir, rel), 'x');
  }
});
afterAll(() => cleanup());

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('resolveInputs', () => {
  it('keeps files and URLs, expands directories to sorted .parquet files', async () => {
    expect(await resolveInputs([join(dir, 'b.parquet'), 'https://example.invalid/s.parquet', join(dir, 'a')])).toEqual([
      join(dir, 'b.parquet'),
      'https://example.invalid/s.parquet',
      join(dir, 'a/deep/deeper/z.parquet'),
      join(dir, 'a/deep/y.parquet'),
      join(dir, 'a/x-1.parquet'),
      join(dir, 'a/x-2.parquet'),
    ]);
  });

  it('expands *, ? and ** globs, sorted', async () => {
    expect(await resolveInputs([join(dir, 'a/x-*.parquet')])).toEqual([join(dir, 'a/x-1.parquet'), join(dir, 'a/x-2.parquet')]);
    expect(await resolveInputs([join(dir, 'a/x-?.parquet')])).toEqual([join(dir, 'a/x-1.parquet'), join(dir, 'a/x-2.parquet')]);
    expect(await resolveInputs([join(dir, '*/deep/y.parquet')])).toEqual([join(dir, 'a/deep/y.parquet')]);
    expect(await resolveInputs([join(dir, 'a/**/*.parquet')])).toEqual([
      join(dir, 'a/deep/deeper/z.parquet'),
      join(dir, 'a/deep/y.parquet'),
      join(dir, 'a/x-1.parquet'),
      join(dir, 'a/x-2.parquet'),
    ]);
  });

  it('reads one path or URL per line from stdin, skipping blanks and comments', async () => {
    const stdin = Readable.from([`# shards\n${join(dir, 'b.parquet')}\n\n  http://127.0.0.1:1/x.parquet  \r\n`, `${join(dir, 'a/x-*.parquet')}\n`]);
    expect(await resolveInputs(['-'], { stdin })).toEqual([
      join(dir, 'b.parquet'),
      'http://127.0.0.1:1/x.parquet',
      join(dir, 'a/x-1.parquet'),
      join(dir, 'a/x-2.parquet'),
    ]);
  });

  it('reports a missing path, an empty glob and a directory without parquet files', async () => {
    const missing = await rejection(resolveInputs([join(dir, 'nope.parquet')]));
    expect(missing).toBeInstanceOf(InputError);
    expect(missing.message).toBe(`${join(dir, 'nope.parquet')}: no such file or directory`);
    const glob = await rejection(resolveInputs([join(dir, 'a/*.csv')]));
    expect(glob.message).toBe(`${join(dir, 'a/*.csv')}: no files match`);
    await mkdir(join(dir, 'empty'), { recursive: true });
    const empty = await rejection(resolveInputs([join(dir, 'empty')]));
    expect(empty.message).toBe(`${join(dir, 'empty')}: no .parquet files in this directory`);
  });
});

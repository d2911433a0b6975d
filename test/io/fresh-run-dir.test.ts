import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freshRunDir } from '../../src/io/fresh-run-dir.js';
import { LOCK_FILE } from '../../src/io/run-lock.js';
import { tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterAll(async () => cleanup());

const entries = new Set(['checkpoint', 'model']);

/** A directory holding `names` (a name ending in / is a directory). */
async function holding(name: string, names: string[]): Promise<string> {
  const out = join(dir, name);
  await mkdir(out, { recursive: true });
  for (const n of names) {
    if (n.endsWith('/')) await mkdir(join(out, n), { recursive: true });
    else await writeFile(join(out, n), 'x');
  }
  return out;
}

describe('freshRunDir', () => {
  it('creates a new directory and takes an empty one (but for the lock)', async () => {
    await freshRunDir(join(dir, 'new', 'run'), { command: 'train', entries, resume: false });
    expect(await readdir(join(dir, 'new', 'run'))).toEqual([]);
    const locked = await holding('locked', [LOCK_FILE]);
    await freshRunDir(locked, { command: 'cleanse', entries, resume: false, force: false });
  });

  it('refuses a directory with files no run of the command writes, even with force', async () => {
    const out = await holding('foreign', ['notes.txt', 'model/']);
    await expect(freshRunDir(out, { command: 'poison', entries, force: true })).rejects.toThrow(
      `${out} is not a gssd poison directory (it holds notes.txt); choose an empty or new --out`,
    );
    expect((await readdir(out)).sort()).toEqual(['model', 'notes.txt']);
  });

  it('refuses a previous run with the ways out the command offers, in one wording', async () => {
    const out = await holding('previous', ['checkpoint/', 'model/']);
    const refused = (r: { resume?: boolean; force?: boolean }) => freshRunDir(out, { command: 'train', entries, ...r });
    await expect(refused({ resume: false, force: false })).rejects.toThrow(`${out} is not empty; use --resume to continue the run there or --force to replace it, or another --out`);
    await expect(refused({ resume: false })).rejects.toThrow(`${out} is not empty; use --resume to continue the run there, or another --out`);
    await expect(refused({ force: false })).rejects.toThrow(`${out} is not empty; use --force to replace it, or another --out`);
    await expect(refused({ resume: true, force: false })).rejects.toThrow(`${out} is not empty and has no checkpoint to resume from; use --force to replace it, or another --out`);
    await expect(refused({ resume: true })).rejects.toThrow(`${out} is not empty and has no checkpoint to resume from; use another --out`);
    expect((await readdir(out)).sort()).toEqual(['checkpoint', 'model']);
  });

  it('with force deletes the previous run and its leftovers, not the lock', async () => {
    const out = await holding('forced', [LOCK_FILE, 'checkpoint/', 'model/', 'tmp/', 'model.tmp-4242']);
    await freshRunDir(out, { command: 'cleanse', entries, resume: false, force: true });
    expect(await readdir(out)).toEqual([LOCK_FILE]);
  });

  it('on a resume, takes a lone checkpoint directory (a run killed before its first checkpoint)', async () => {
    const out = await holding('killed', ['checkpoint/']);
    await freshRunDir(out, { command: 'train', entries, resume: true });
    await expect(freshRunDir(out, { command: 'train', entries, resume: false })).rejects.toThrow('is not empty');
  });

  it('with a marker, takes only a directory that holds it', async () => {
    const demo = { command: 'demo', entries: new Set(['.marker', 'run']), marker: '.marker', force: true };
    const unmarked = await holding('unmarked', ['run/']);
    await expect(freshRunDir(unmarked, demo)).rejects.toThrow(`${unmarked} is not a gssd demo directory (it holds run); choose an empty or new --out`);
    const marked = await holding('marked', ['.marker', 'run/']);
    await freshRunDir(marked, demo);
    expect(await readdir(marked)).toEqual([]);
  });
});

import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { replaceDir } from '../src/replace-dir.js';

describe('replaceDir', async () => {
  const root = await mkdtemp(join(tmpdir(), 'gssd-replace-dir-'));
  afterAll(() => rm(root, { recursive: true, force: true }));

  async function fill(dir: string, files: Record<string, string>): Promise<void> {
    await mkdir(dir, { recursive: true });
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  }

  it('creates the directory, replaces an old one whole, and removes a leftover temp directory first', async () => {
    const dir = join(root, 'model');
    await replaceDir(dir, (tmp) => fill(tmp, { 'a.json': '1', 'b.bin': 'x' }));
    expect((await readdir(dir)).sort()).toEqual(['a.json', 'b.bin']);

    await fill(`${dir}.tmp`, { 'stale.bin': 'from a killed run' });
    let seen: string[] = ['not called'];
    await replaceDir(dir, async (tmp) => {
      seen = await readdir(tmp).catch(() => []);
      await fill(tmp, { 'a.json': '2' });
    });
    expect(seen).toEqual([]);
    expect(await readdir(dir)).toEqual(['a.json']);
    expect(await readFile(join(dir, 'a.json'), 'utf8')).toBe('2');
    expect(await readdir(root)).toEqual(['model']);
  });

  it('leaves the old directory untouched when the write fails', async () => {
    const dir = join(root, 'keep');
    await fill(dir, { 'a.json': 'old' });
    await expect(replaceDir(dir, async (tmp) => {
      await fill(tmp, { 'a.json': 'half' });
      throw new Error('disk gone');
    })).rejects.toThrow('disk gone');
    expect(await readFile(join(dir, 'a.json'), 'utf8')).toBe('old');
  });
});

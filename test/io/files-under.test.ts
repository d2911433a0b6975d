import { afterAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filesUnder } from '../../src/io/files-under.js';

describe('filesUnder', () => {
  let root = '';
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('lists every file at any depth, links to files included, sorted; not directories or dangling links', async () => {
    root = await mkdtemp(join(tmpdir(), 'gssd-files-under-'));
    await mkdir(join(root, 'b', 'c'), { recursive: true });
    await writeFile(join(root, 'z.txt'), 'z');
    await writeFile(join(root, 'b', 'a.parquet'), 'a');
    await writeFile(join(root, 'b', 'c', 'd.bin'), 'd');
    await symlink(join(root, 'z.txt'), join(root, 'b', 'link.txt'));
    await symlink(join(root, 'missing'), join(root, 'dangling'));
    expect(await filesUnder(root)).toEqual([join(root, 'b', 'a.parquet'), join(root, 'b', 'c', 'd.bin'), join(root, 'b', 'link.txt'), join(root, 'z.txt')]);
  });
});

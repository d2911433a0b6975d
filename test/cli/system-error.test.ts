import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT_DISK_FULL, systemError } from '../../src/cli/system-error.js';
import { CLI, cliBuilt } from '../pipelines/fixture.js';
import { tempDir, writeSmallDataset } from '../io/helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
let data: string;
const mounts: string[] = [];
const isRoot = process.getuid?.() === 0;

/** Mounts a tmpfs at `at` (root only; false where mounting is not allowed). */
function mountTmpfs(at: string, options: string): boolean {
  if (!isRoot) return false;
  const ok = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', at]).status === 0;
  if (ok) mounts.push(at);
  return ok;
}

/** Runs the CLI (optionally as user `nobody`); exit code and stderr. */
function gssd(args: string[], asNobody = false): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args, '--log', 'silent'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(asNobody ? { uid: 65534, gid: 65534 } : {}),
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => done({ code, stderr }));
  });
}

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  await chmod(dir, 0o755); // readable by `nobody` for the permission case
  data = writeSmallDataset(join(dir, 'data.parquet'), 300);
  await chmod(data, 0o644);
});
afterAll(async () => {
  for (const m of mounts) spawnSync('umount', [m]);
  await cleanup();
});

describe('file-system errors as the user\'s, not bugs', () => {
  it('maps errno errors (also wrapped as a cause) to one line and exit 2, disk full to exit 3', () => {
    const errno = (code: string, syscall: string, path?: string) => Object.assign(new Error(`${code}: x, ${syscall}`), { code, syscall, path });
    expect(systemError(errno('EEXIST', 'mkdir', '/data/run'))).toEqual({ message: '/data/run: exists and is not a directory (EEXIST); give --out a directory or a new path', exitCode: 2 });
    expect(systemError(errno('EROFS', 'open', '/ro/x'))!.message).toBe('/ro/x: read-only file system (EROFS); give --out a writable place');
    expect(systemError(errno('EACCES', 'open', '/p/x'))).toEqual({ message: '/p/x: permission denied (EACCES)', exitCode: 2 });
    const full = systemError(new Error('writing part', { cause: errno('ENOSPC', 'write') }))!;
    expect(full.exitCode).toBe(EXIT_DISK_FULL);
    expect(full.message).toMatch(/^no space left on device where --out or TMPDIR live \(ENOSPC\); what is already written stays safe/);
    expect(systemError(errno('ECONNRESET', 'read'))).toBeNull();
    expect(systemError(new Error('plain'))).toBeNull();
  });

  it.skipIf(!cliBuilt())('--out that is a file, or under a file: exit 2 naming the path', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, 'x');
    const [exists, under] = await Promise.all([
      gssd(['cleanse', data, '--out', file]),
      gssd(['poison', data, '--attack', 'badnets', '--out', join(file, 'sub')]),
    ]);
    expect(exists).toEqual({ code: 2, stderr: `gssd cleanse: ${file}: exists and is not a directory (EEXIST); give --out a directory or a new path\n` });
    expect(under).toEqual({ code: 2, stderr: `gssd poison: ${join(file, 'sub')}: a part of this path is a file, not a directory (ENOTDIR)\n` });
  });

  it.skipIf(!cliBuilt())('--out without permission: exit 2 naming the path', async () => {
    const locked = join(dir, 'locked');
    await mkdir(locked, { mode: 0o555 });
    await chmod(locked, 0o555);
    const r = await gssd(['pretrain', data, '--out', join(locked, 'run')], isRoot);
    expect(r).toEqual({ code: 2, stderr: `gssd pretrain: ${join(locked, 'run')}: permission denied (EACCES)\n` });
  });

  it.skipIf(!cliBuilt())('--out on a read-only file system: exit 2 saying so (mkdir -p said ENOENT)', async (ctx) => {
    const ro = join(dir, 'ro');
    await mkdir(ro);
    if (!mountTmpfs(ro, 'ro,size=64k')) return ctx.skip();
    const r = await gssd(['cleanse', data, '--out', join(ro, 'run')]);
    expect(r).toEqual({ code: 2, stderr: `gssd cleanse: ${join(ro, 'run')}: read-only file system (EROFS); give --out a writable place\n` });
  });

  it.skipIf(!cliBuilt())('a full disk: exit 3, saying what is written stays safe', async (ctx) => {
    const small = join(dir, 'small');
    await mkdir(small);
    if (!mountTmpfs(small, 'size=32k')) return ctx.skip();
    const r = await gssd(['poison', data, '--attack', 'badnets', '--out', join(small, 'p')]);
    expect(r.code).toBe(EXIT_DISK_FULL);
    expect(r.stderr).toMatch(/^gssd poison: no space left on device.* \(ENOSPC\); what is already written stays safe .*\n$/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

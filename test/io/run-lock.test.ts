import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { UsageError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { LOCK_FILE, lockRunDir } from '../../src/io/run-lock.js';
import { errorOf, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterAll(async () => cleanup());

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => child.on('exit', r));
  return child.pid!;
}

function textLog(): { log: ReturnType<typeof createLogger>; text: () => string } {
  let out = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      out += String(chunk);
      cb();
    },
  });
  return { log: createLogger({ format: 'text', stream }), text: () => out };
}

describe('run directory lock', () => {
  it('records the holder, refuses a second holder naming it, and is gone after release', async () => {
    const run = join(dir, 'a', 'run');
    const lock = await lockRunDir(run, 'cleanse');
    const holder = JSON.parse(await readFile(join(run, LOCK_FILE), 'utf8'));
    expect(holder).toMatchObject({ pid: process.pid, host: hostname(), command: 'cleanse' });
    const err = await errorOf(lockRunDir(run, 'train'));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toBe(`${run} is in use by gssd cleanse (pid ${process.pid} on ${hostname()}, since ${holder.since}); wait for it to finish`);
    await lock.release();
    expect(await readdir(run)).toEqual([]);
    const again = await lockRunDir(run, 'train');
    await again.release();
  });

  it('refuses a lock held by a live process of this host', async () => {
    const run = join(dir, 'live');
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      await lockRunDir(run, 'x').then((l) => l.release());
      await writeFile(join(run, LOCK_FILE), JSON.stringify({ pid: child.pid, host: hostname(), command: 'pretrain', since: 'then' }));
      const err = await errorOf(lockRunDir(run, 'pretrain'));
      expect(err.message).toMatch(new RegExp(`is in use by gssd pretrain \\(pid ${child.pid} on `));
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('takes over a stale lock of a dead process on this host, with a message', async () => {
    const run = join(dir, 'stale');
    await lockRunDir(run, 'x').then((l) => l.release());
    const pid = await deadPid();
    await writeFile(join(run, LOCK_FILE), JSON.stringify({ pid, host: hostname(), command: 'cleanse', since: 'then' }));
    const { log, text } = textLog();
    const lock = await lockRunDir(run, 'cleanse', log);
    expect(text()).toMatch(new RegExp(`^warning: stale lock taken over dir=${run} holder=gssd cleanse \\(pid ${pid} on `));
    expect(JSON.parse(await readFile(join(run, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    await lock.release();
    expect(await readdir(run)).toEqual([]);
  });

  it('refuses a lock from another host (it cannot tell whether that process lives)', async () => {
    const run = join(dir, 'remote');
    await lockRunDir(run, 'x').then((l) => l.release());
    await writeFile(join(run, LOCK_FILE), JSON.stringify({ pid: await deadPid(), host: 'elsewhere', command: 'train', since: 'then' }));
    const err = await errorOf(lockRunDir(run, 'train'));
    expect(err.message).toMatch(/in use by gssd train \(pid \d+ on elsewhere, since then\); it runs on another host; remove .*gssd\.lock if it is gone$/);
    expect(existsSync(join(run, LOCK_FILE))).toBe(true);
  });
});

import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';

/** The name of the lock file in a run directory. */
export const LOCK_FILE = 'gssd.lock';

/** Who holds a run directory: what `DIR/gssd.lock` records. */
export interface LockHolder {
  pid: number;
  host: string;
  command: string;
  /** ISO time the lock was taken. */
  since: string;
}

/** A held lock on a run directory; `release()` removes it (only while it is still ours). */
export interface RunLock {
  readonly path: string;
  release(): Promise<void>;
}

/** Lock files held by this process, so that a lock naming our own pid is told apart from a stale one. */
const held = new Set<string>();

/**
 * Takes the lock of run directory `dir` (creating the directory): `DIR/gssd.lock` records the
 * holder's pid, host, command and start time, and is created atomically (written under a
 * private name, then hard-linked to `gssd.lock`, which fails if the lock exists). A lock held
 * by a live process, or by any process on another host, is a `UsageError` naming the holder;
 * a lock left by a dead process on this host is taken over with a warning.
 *
 * @example
 *   const lock = await lockRunDir('run', 'cleanse', log);
 *   try { await work(); } finally { await lock.release(); }
 */
export async function lockRunDir(dir: string, command: string, log: Logger = silentLogger): Promise<RunLock> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  const me: LockHolder = { pid: process.pid, host: hostname(), command, since: new Date().toISOString() };
  const mine = `${path}.tmp-${process.pid}`;
  await writeFile(mine, JSON.stringify(me) + '\n');
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await linkOrCreate(mine, path, JSON.stringify(me) + '\n');
        held.add(resolve(path));
        return { path, release: () => release(path) };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (attempt >= 5 || (code !== 'EEXIST' && code !== 'ENOENT')) throw err;
        // ENOENT: our private file was cleaned away by the holder; write it again
        if (code === 'ENOENT') {
          await writeFile(mine, JSON.stringify(me) + '\n');
          continue;
        }
      }
      const holder = await readHolder(path);
      if (holder === undefined) continue; // removed meanwhile: try again
      if (!isStale(path, holder)) throw lockedError(dir, path, holder);
      if (await takeOver(path, holder)) {
        log.warn('stale lock taken over', { dir, holder: describeHolder(holder), note: 'that process is gone; its run can be resumed' });
      }
    }
  } finally {
    await unlink(mine).catch(() => {});
  }
}

/** Hard-links `from` to `to` (failing with EEXIST if `to` exists); where the filesystem has no hard links, creates `to` exclusively. */
async function linkOrCreate(from: string, to: string, content: string): Promise<void> {
  try {
    await link(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    await writeFile(to, content, { flag: 'wx' });
  }
}

/** The holder recorded in a lock file, undefined when there is none, null when it is unreadable. */
async function readHolder(path: string): Promise<LockHolder | null | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const h = JSON.parse(text) as LockHolder;
    return Number.isInteger(h.pid) && typeof h.host === 'string' ? h : null;
  } catch {
    return null;
  }
}

/** True when the lock's holder is a process of this host that no longer runs. */
function isStale(path: string, holder: LockHolder | null): holder is LockHolder {
  if (!holder || holder.host !== hostname()) return false;
  if (holder.pid === process.pid) return !held.has(resolve(path));
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Moves a stale lock out of the way. Another process may have replaced it between our read
 * and the move: then the moved lock is not the stale one, and it is put back.
 */
async function takeOver(path: string, stale: LockHolder): Promise<boolean> {
  const aside = `${path}.stale-${process.pid}`;
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  const moved = await readHolder(aside);
  const same = moved && moved.pid === stale.pid && moved.host === stale.host && moved.since === stale.since;
  if (!same) await link(aside, path).catch(() => {});
  await unlink(aside).catch(() => {});
  return Boolean(same);
}

async function release(path: string): Promise<void> {
  if (!held.delete(resolve(path))) return;
  const holder = await readHolder(path).catch(() => null);
  if (holder && holder.pid === process.pid && holder.host === hostname()) await unlink(path).catch(() => {});
}

function describeHolder(h: LockHolder): string {
  return `gssd ${h.command} (pid ${h.pid} on ${h.host}, since ${h.since})`;
}

function lockedError(dir: string, path: string, holder: LockHolder | null): UsageError {
  if (!holder) return new UsageError(`${dir} is locked (${path} exists but names no gssd process); remove it if no gssd runs there`);
  const where = holder.host === hostname() ? 'wait for it to finish' : `it runs on another host; remove ${path} if it is gone`;
  return new UsageError(`${dir} is in use by ${describeHolder(holder)}; ${where}`);
}

import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger, type Logger } from '../log.js';
import { LOCK_FILE, lockRunDir, type RunLock } from './run-lock.js';

/** The directory of a run's temp files (downloads of URLs without Range support). */
export const TEMP_DIR = 'tmp';

/** `<name>.tmp-<pid>` (an atomic write cut short) or `<name>.stale-<pid>` (a lock take-over cut short). */
const LEFTOVER = /^(.+)\.(?:tmp|stale)-(\d+)$/;

/**
 * A run directory held by this process: its lock (see `lockRunDir`) and its temp directory
 * `DIR/tmp`. Once the caller knows the directory is a gssd run (or new), `adopt()` removes
 * what killed processes left there: `DIR/tmp` and `*.tmp-PID` files of interrupted atomic
 * writes (e.g. `report.html.tmp-4242`) in DIR and DIR/checkpoint. `close()` removes the temp
 * directory of an adopted run and releases the lock. Nothing is deleted in a directory that
 * was not adopted.
 *
 * @example
 *   const run = await RunDir.open('out', 'cleanse', log);
 *   try {
 *     await checkItIsARun('out');
 *     await run.adopt();
 *     for await (const b of readBatches(inputs, { tempDir: run.tempDir })) use(b);
 *   } finally {
 *     await run.close();
 *   }
 */
export class RunDir {
  readonly tempDir: string;
  private adopted = false;

  private constructor(readonly dir: string, private readonly lock: RunLock) {
    this.tempDir = join(dir, TEMP_DIR);
  }

  /** Creates `dir` if needed and takes its lock (a `UsageError` naming the holder if another process has it). */
  static async open(dir: string, command: string, log: Logger = silentLogger): Promise<RunDir> {
    return new RunDir(dir, await lockRunDir(dir, command, log));
  }

  /**
   * True for the entries a run directory may hold besides the run's own files: the lock, the
   * temp directory, and leftovers of interrupted writes of `ownEntries` (e.g. `report.html.tmp-77`).
   *
   * @example
   *   const foreign = names.filter((n) => !RUN_ENTRIES.has(n) && !RunDir.isHousekeeping(n, RUN_ENTRIES));
   */
  static isHousekeeping(name: string, ownEntries: ReadonlySet<string> = new Set()): boolean {
    if (name === LOCK_FILE || name === TEMP_DIR) return true;
    const m = LEFTOVER.exec(name);
    return m !== null && (m[1] === LOCK_FILE || ownEntries.has(m[1]));
  }

  /** Removes leftovers of killed processes (the temp directory, `*.tmp-PID` files). */
  async adopt(): Promise<void> {
    this.adopted = true;
    await rm(this.tempDir, { recursive: true, force: true });
    for (const dir of [this.dir, join(this.dir, 'checkpoint')]) {
      const names = await readdir(dir).catch(() => [] as string[]);
      for (const name of names) {
        const m = LEFTOVER.exec(name);
        // a live process's private lock file: it is about to find the directory locked
        if (!m || (m[1] === LOCK_FILE && isAlive(Number(m[2])))) continue;
        await rm(join(dir, name), { recursive: true, force: true });
      }
    }
  }

  /** Removes the temp directory (if adopted) and releases the lock. */
  async close(): Promise<void> {
    try {
      if (this.adopted) await rm(this.tempDir, { recursive: true, force: true });
    } finally {
      await this.lock.release();
    }
  }
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

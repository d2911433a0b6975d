import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../../src/errors.js';
import { RunDir } from '../../src/io/run-dir.js';
import { LOCK_FILE } from '../../src/io/run-lock.js';

/** What a cleanse run directory holds; `--force` deletes only these (and the lock's housekeeping, see `RunDir`). */
export const CLEANSE_RUN_ENTRIES: ReadonlySet<string> = new Set(['checkpoint', 'work', 'clean', 'poisoned', 'uncertain', 'rejected', 'report.json', 'report.html']);

/**
 * Makes `out` ready for a new cleanse run (either engine): creates it, refuses one that holds
 * anything but a gssd run, and with `force` empties a previous run (the lock file stays).
 *
 * @example
 *   await freshRunDir({ out: 'run', resume: false, force: true });
 */
export async function freshRunDir(o: { out: string; resume: boolean; force: boolean }): Promise<void> {
  await mkdir(o.out, { recursive: true });
  const existing = (await readdir(o.out)).filter((name) => name !== LOCK_FILE);
  if (existing.length === 0) return;
  const foreign = existing.filter((name) => !CLEANSE_RUN_ENTRIES.has(name) && !RunDir.isHousekeeping(name, CLEANSE_RUN_ENTRIES));
  if (foreign.length > 0) throw new UsageError(`${o.out} holds files that are not a gssd run (${foreign.slice(0, 3).join(', ')}); choose an empty or new --out`);
  if (!o.force) {
    throw new UsageError(
      o.resume
        ? `${o.out} has no checkpoint to resume from; use --force to start again there`
        : `${o.out} is not empty; use --resume to continue the run there or --force to replace it`,
    );
  }
  for (const name of existing) await rm(join(o.out, name), { recursive: true, force: true });
}

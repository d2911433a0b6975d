import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { RunDir } from './run-dir.js';
import { LOCK_FILE } from './run-lock.js';

/** What a command's new run may do with its output directory. */
export interface FreshRunDirRequest {
  /** The command, as the messages name it: `cleanse`. */
  command: string;
  /** What a run of the command writes there: `force` deletes only these (and their housekeeping, see `RunDir`); anything else is refused. */
  entries: ReadonlySet<string>;
  /** `--resume` was given (and found no checkpoint); absent: the command has no `--resume`. */
  resume?: boolean;
  /** `--force` was given; absent: the command has no `--force`. */
  force?: boolean;
  /** A file of `entries` without which the directory is not taken for the command's (the demo's marker). */
  marker?: string;
}

/**
 * Makes `out` ready for a new run of a command (cleanse, train, pretrain, poison, demo), with
 * one set of rules and one wording: it creates `out`; an empty directory (but for the run's
 * lock) is ready; one holding anything a run of the command does not write is refused
 * ("is not a gssd ... directory"); a previous run is deleted with `force`, else refused with
 * the ways out the command offers (`--resume`, `--force`, another `--out`). On a resume that
 * found no checkpoint, a lone `checkpoint` directory (a run killed before its first
 * checkpoint) is not in the way.
 *
 * @example
 *   await freshRunDir('run', { command: 'poison', entries: new Set(['data', 'truth', 'trigger.png']), force: false });
 *   // an earlier poisoned set there: UsageError "run is not empty; use --force to replace it, or another --out"
 */
export async function freshRunDir(out: string, r: FreshRunDirRequest): Promise<void> {
  await mkdir(out, { recursive: true });
  const existing = (await readdir(out)).filter((name) => name !== LOCK_FILE);
  if (existing.length === 0) return;
  const foreign = existing.filter((name) => !r.entries.has(name) && !RunDir.isHousekeeping(name, r.entries));
  if (foreign.length > 0 || (r.marker !== undefined && !existing.includes(r.marker))) {
    const shown = (foreign.length > 0 ? foreign : existing).slice(0, 3).join(', ');
    throw new UsageError(`${out} is not a gssd ${r.command} directory (it holds ${shown}); choose an empty or new --out`);
  }
  if (r.force) {
    for (const name of existing) await rm(join(out, name), { recursive: true, force: true });
    return;
  }
  // a run killed before its first checkpoint leaves only the checkpoint directory
  if (r.resume && existing.every((name) => name === 'checkpoint')) return;
  const ways = [r.resume === false ? '--resume to continue the run there' : null, r.force === false ? '--force to replace it' : null].filter((w) => w !== null);
  const what = r.resume ? `${out} is not empty and has no checkpoint to resume from` : `${out} is not empty`;
  throw new UsageError(`${what}; use ${ways.length > 0 ? `${ways.join(' or ')}, or another --out` : 'another --out'}`);
}

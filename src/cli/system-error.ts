/**
 * File-system errors that are the user's environment, not a bug: an `--out` that is a file,
 * on a read-only file system or without permission (exit code 2), and a full disk (exit code
 * {@link EXIT_DISK_FULL}). Each becomes one line naming the path.
 */
import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Exit code of a run stopped by a full disk (ENOSPC, EDQUOT). */
export const EXIT_DISK_FULL = 3;

/** A system error turned into what the CLI prints and exits with. */
export interface SystemErrorReport {
  message: string;
  exitCode: number;
}

/**
 * The one-line report of a file-system error found in `err` or its causes, or null when it
 * is not one of the environment's errors.
 *
 * @example
 *   const sys = systemError(err); // { message: "/data/run: read-only file system (EROFS)", exitCode: 2 }
 */
export function systemError(err: unknown): SystemErrorReport | null {
  const e = errnoOf(err);
  if (!e) return null;
  const path = e.path ? resolve(e.path) : undefined;
  const where = path ?? 'a file';
  let code = e.code;
  // mkdir -p answers ENOENT on a read-only or unwritable parent: find the real reason
  if (code === 'ENOENT' && e.syscall === 'mkdir' && path) code = mkdirReason(path) ?? code;
  switch (code) {
    case 'EEXIST':
      return { message: `${where}: exists and is not a directory (EEXIST); give --out a directory or a new path`, exitCode: 2 };
    case 'ENOTDIR':
      return { message: `${where}: a part of this path is a file, not a directory (ENOTDIR)`, exitCode: 2 };
    case 'EISDIR':
      return { message: `${where}: is a directory, expected a file (EISDIR)`, exitCode: 2 };
    case 'EROFS':
      return { message: `${where}: read-only file system (EROFS); give --out a writable place`, exitCode: 2 };
    case 'EACCES':
    case 'EPERM':
      return { message: `${where}: permission denied (${code})`, exitCode: 2 };
    case 'ENOSPC':
    case 'EDQUOT':
      return {
        message:
          `no space left on device ${path ? `writing ${path}` : 'where --out or TMPDIR live'} (${code}); what is already written stays safe ` +
          '(outputs and checkpoints are committed by rename): free some space, then run again (cleanse, pretrain, train: with --resume)',
        exitCode: EXIT_DISK_FULL,
      };
    default:
      return null;
  }
}

function errnoOf(err: unknown): NodeJS.ErrnoException | null {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code) && (e as NodeJS.ErrnoException).syscall) return e as NodeJS.ErrnoException;
  }
  return null;
}

/** Why `mkdir -p path` failed with ENOENT: creating the first missing directory by itself tells. */
function mkdirReason(path: string): string | undefined {
  let missing = path;
  for (let parent = dirname(missing); parent !== missing; missing = parent, parent = dirname(parent)) {
    try {
      if (!statSync(parent).isDirectory()) return 'ENOTDIR';
      break;
    } catch {
      // keep walking up
    }
  }
  try {
    mkdirSync(missing);
    rmdirSync(missing);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code;
  }
}

import { spawnSync } from 'node:child_process';

/**
 * The short hash of the checked-out commit, recorded with bench results ('unknown' outside git).
 *
 * @example
 *   const results = { date: new Date().toISOString(), commit: headCommit() };
 */
export function headCommit(): string {
  const r = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : 'unknown';
}

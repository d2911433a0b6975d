/**
 * Crash injection for the kill-and-resume tests: when the environment variable
 * GSSD_CRASH_AT is `<point>:<n>`, the n-th time the process reaches `crashPoint(point)` it
 * kills itself with SIGKILL, exactly there (e.g. between writing a part file and renaming it).
 * Does nothing otherwise.
 *
 * @example
 *   await part.writer.finish();
 *   crashPoint('sink-commit');    // GSSD_CRASH_AT=sink-commit:3 dies here on the 3rd commit
 *   await rename(tmp, path);
 */
const counts = new Map<string, number>();

export function crashPoint(point: string): void {
  const spec = process.env.GSSD_CRASH_AT;
  if (!spec) return;
  const n = (counts.get(point) ?? 0) + 1;
  counts.set(point, n);
  if (spec === `${point}:${n}`) process.kill(process.pid, 'SIGKILL');
}

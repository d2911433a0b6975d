/**
 * Crash injection for the kill-and-resume tests: when the environment variable
 * GSSD_CRASH_AT is `<point>:<n>`, the n-th time the process reaches `crashPoint(point)` it
 * kills itself with SIGKILL, exactly there (e.g. between writing a part file and renaming it).
 * GSSD_STOP_AT=`<point>:<n>` instead stops it there with SIGSTOP (after one stderr line
 * `gssd: stopped at <point>:<n>`), so that a test can act while the process is alive and
 * holds its run directory, then send it SIGCONT or SIGKILL. Does nothing otherwise.
 *
 * @example
 *   await part.writer.finish();
 *   crashPoint('sink-commit');    // GSSD_CRASH_AT=sink-commit:3 dies here on the 3rd commit
 *   await rename(tmp, path);
 */
const counts = new Map<string, number>();

export function crashPoint(point: string): void {
  const crash = process.env.GSSD_CRASH_AT;
  const stop = process.env.GSSD_STOP_AT;
  if (!crash && !stop) return;
  const n = (counts.get(point) ?? 0) + 1;
  counts.set(point, n);
  const here = `${point}:${n}`;
  if (crash === here) process.kill(process.pid, 'SIGKILL');
  if (stop === here) {
    process.stderr.write(`gssd: stopped at ${here}\n`);
    process.kill(process.pid, 'SIGSTOP');
  }
}

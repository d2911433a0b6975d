/**
 * Throughput measurement: items per second by the wall clock and by this process's CPU time
 * (user + system, all threads), with the load average around the measurement, because
 * other work on a shared machine changes the wall-clock figure a lot.
 */
import { loadavg } from 'node:os';

/** One throughput figure. */
export interface Rate {
  /** Items per second, wall clock. */
  perSecond: number;
  /** Items per CPU-second of this process (every thread counted). */
  perCpuSecond: number;
  items: number;
  seconds: number;
  /** 1-minute load average at the end. */
  load: number;
}

/**
 * Calls `fn` (which handles `items` items per call) once to warm up, then until `seconds`
 * have passed (at least once), then `drain` (work `fn` queued and has not finished, e.g. on
 * worker threads, is timed too), and returns the rates.
 *
 * @example
 *   const r = await measure(() => enc.embed(pixels, 256), 256, 10);
 *   console.log(r.perSecond);
 */
export async function measure(fn: () => unknown, items: number, seconds: number, warmup = 1, drain?: () => Promise<unknown>): Promise<Rate> {
  for (let i = 0; i < warmup; i++) await fn();
  await drain?.();
  let n = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  do {
    await fn();
    n += items;
  } while (performance.now() - t0 < seconds * 1000);
  await drain?.();
  return finish(n, t0, c0);
}

/**
 * Times one run of `fn` over a known number of items (a whole pass over a data set).
 *
 * @example
 *   const r = await timeOnce(async () => { for await (const b of source) rows += b.numRows; return rows; });
 */
export async function timeOnce(fn: () => Promise<number>): Promise<Rate> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const n = await fn();
  return finish(n, t0, c0);
}

function finish(n: number, t0: number, c0: NodeJS.CpuUsage): Rate {
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return { perSecond: n / seconds, perCpuSecond: cpuSeconds > 0 ? n / cpuSeconds : NaN, items: n, seconds, load: loadavg()[0] };
}

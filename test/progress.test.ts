import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { createLogger, withPlan } from '../src/log.js';
import { Progress, formatSeconds } from '../src/progress.js';
import { RunPlan } from '../src/run-plan.js';

/** A JSON logger whose lines land in `lines`. */
function jsonLog(): { log: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { log: createLogger({ format: 'json', stream }), lines };
}

/** A text logger on a stream that is not a terminal (a CI log, nohup), its lines in `lines`. */
function pipedTextLog(progressEveryMs?: number): { log: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(l);
      cb();
    },
  });
  return { log: createLogger({ format: 'text', stream, progressEveryMs }), lines };
}

describe('Progress', () => {
  it('emits rows, rows/s and an ETA as JSON lines', async () => {
    const { log, lines } = jsonLog();
    let now = 0;
    const p = new Progress(log, 'embed', 1_000_000, 0, () => now);
    now = 20;
    p.add(100);
    const e = lines.find((l) => l.event === 'progress')!;
    expect(e).toMatchObject({ pass: 'embed', rows: 100, total: 1_000_000 });
    expect(e.rowsPerSec).toBeGreaterThan(0);
    expect(e.etaSec).toBeGreaterThan(0);
    const s = p.done();
    expect(s.rows).toBe(100);
    expect(lines.at(-1)).toMatchObject({ event: 'embed done', rows: 100 });
  });

  it('after a resume, rows done before count in the position but not in rows/s', async () => {
    const { log, lines } = jsonLog();
    let now = 0;
    const p = new Progress(log, 'fit', 1_000_000, 0, () => now);
    p.skip(500_000);
    now = 50;
    p.add(100);
    const e = lines.find((l) => l.event === 'progress')!;
    expect(e.rows).toBe(500_100);
    // 100 rows in 50 ms: 2,000 rows/s, so the 499,900 rows left take 250 s
    // (counting the skipped rows as this process's would say 10M rows/s and an ETA of 0)
    expect(e.rowsPerSec as number).toBeLessThanOrEqual(2_000);
    expect(e.etaSec as number).toBeGreaterThanOrEqual(249);
    const s = p.done();
    expect(s.rows).toBe(500_100);
    expect(s.rowsPerSec).toBeLessThanOrEqual(2_000);
  });

  it('without a terminal, text mode prints a progress line at most every progressEveryMs (default 30 s)', () => {
    let now = 0;
    const clock = () => now;
    const { log, lines } = pipedTextLog();
    const p = new Progress(log, 'embed', 10_000, undefined, clock);
    const at = (ms: number, rows: number) => {
      now = ms;
      p.add(rows);
    };
    at(1000, 100); // the first batch shows at once
    expect(lines).toEqual(['embed: 100/10000 rows 1.0% 100 rows/s ETA 1m39s']);
    at(10_000, 900);
    at(30_999, 1000);
    expect(lines).toHaveLength(1);
    at(31_000, 1000);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe('embed: 3000/10000 rows 30.0% 97 rows/s ETA 1m12s');
    at(40_000, 1000);
    expect(lines).toHaveLength(2);

    // --progress-every 5: every 5 s
    const fast = pipedTextLog(5000);
    now = 0;
    const q = new Progress(fast.log, 'route', 1000, undefined, clock);
    for (let t = 1000; t <= 20_000; t += 1000) {
      now = t;
      q.add(10);
    }
    expect(fast.lines.map((l) => l.split(' ')[1])).toEqual(['10/1000', '60/1000', '110/1000', '160/1000']);
  });

  it('with the run\'s plan, shows the ETA of the whole run from the first line', () => {
    let now = 0;
    const { log, lines } = pipedTextLog();
    const plan = new RunPlan([
      { pass: 'pretrain', units: 1000, weight: 10 },
      { pass: 'embed', units: 1000, weight: 1 },
    ]);
    expect(plan.shares()).toEqual({ pretrain: '91%', embed: '9%' });
    const p = new Progress(withPlan(log, plan), 'pretrain', 1000, undefined, () => now);
    now = 10_000;
    p.add(100);
    // 10 rows/s: 900 pretrain rows take 90 s, then 1000 embed rows at 10x that speed 10 s
    expect(lines).toEqual(['pretrain: 100/1000 rows 10.0% 10 rows/s ETA 1m30s (whole run ETA 1m40s)']);
    const json = jsonLog();
    const q = new Progress(withPlan(json.log, plan), 'embed', 1000, 0, () => now);
    now = 20_000;
    q.add(500);
    // the last pass: 500 rows in 10 s, 500 left; the whole run's ETA is its own
    expect(json.lines[0]).toMatchObject({ pass: 'embed', rows: 500, etaSec: 10, runEtaSec: 10 });
  });

  it('formats durations', () => {
    expect(formatSeconds(42)).toBe('42s');
    expect(formatSeconds(125)).toBe('2m05s');
    expect(formatSeconds(7260)).toBe('2h01m');
  });
});

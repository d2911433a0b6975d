import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { createLogger } from '../src/log.js';
import { Progress, formatSeconds } from '../src/progress.js';

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Progress', () => {
  it('emits rows, rows/s and an ETA as JSON lines', async () => {
    const { log, lines } = jsonLog();
    const p = new Progress(log, 'embed', 1_000_000, 0);
    await sleep(20);
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
    const p = new Progress(log, 'fit', 1_000_000, 0);
    p.skip(500_000);
    await sleep(50);
    p.add(100);
    const e = lines.find((l) => l.event === 'progress')!;
    expect(e.rows).toBe(500_100);
    // 100 rows in >= 50 ms: at most 2,000 rows/s, so the 499,900 rows left take >= 250 s
    // (counting the skipped rows as this process's would say 10M rows/s and an ETA of 0)
    expect(e.rowsPerSec as number).toBeLessThanOrEqual(2_000);
    expect(e.etaSec as number).toBeGreaterThanOrEqual(249);
    const s = p.done();
    expect(s.rows).toBe(500_100);
    expect(s.rowsPerSec).toBeLessThanOrEqual(2_000);
  });

  it('formats durations', () => {
    expect(formatSeconds(42)).toBe('42s');
    expect(formatSeconds(125)).toBe('2m05s');
    expect(formatSeconds(7260)).toBe('2h01m');
  });
});

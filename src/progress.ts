import type { Logger } from './log.js';

/**
 * Rows/s and ETA for a long pass: a live line on a TTY, a JSON line every few seconds
 * with `--log json`, and one summary event at the end.
 *
 * @example
 *   const p = new Progress(log, 'embed', totalRows);
 *   for await (const b of batches) p.add(b.numRows);
 *   p.done();
 */
export class Progress {
  private rows = 0;
  /** Rows done before this process started (a resumed run): counted in the position, not the rate. */
  private skipped = 0;
  private readonly start = Date.now();
  private lastEmit = 0;

  constructor(
    private readonly log: Logger,
    private readonly pass: string,
    private readonly total?: number,
    private readonly jsonEveryMs = 5000,
  ) {}

  get count(): number {
    return this.rows;
  }

  /**
   * Rows a resumed run had already done: they move the position (and shorten the ETA) but
   * do not count as rows/s of this process.
   *
   * @example
   *   const p = new Progress(log, 'fit', epochs * rows);
   *   p.skip(state.fit.epochsDone * rows);
   */
  skip(rows: number): void {
    this.rows += rows;
    this.skipped += rows;
  }

  add(rows: number): void {
    this.rows += rows;
    const now = Date.now();
    const every = this.log.format === 'json' ? this.jsonEveryMs : 250;
    if (now - this.lastEmit < every) return;
    this.lastEmit = now;
    const f = this.fields(now);
    if (this.log.format === 'json') this.log.info('progress', f);
    else if (this.log.tty) {
      const pct = this.total ? ` ${((100 * this.rows) / this.total).toFixed(1)}%` : '';
      const eta = f.etaSec !== undefined ? ` ETA ${formatSeconds(f.etaSec)}` : '';
      this.log.status(`${this.pass}: ${this.rows}${this.total ? '/' + this.total : ''} rows${pct} ${f.rowsPerSec} rows/s${eta}`);
    }
  }

  /** Ends the pass; returns its summary (also logged as event `<pass> done`). */
  done(extra: Record<string, unknown> = {}): { pass: string; rows: number; seconds: number; rowsPerSec: number } {
    const seconds = (Date.now() - this.start) / 1000;
    const summary = { pass: this.pass, rows: this.rows, seconds: round(seconds), rowsPerSec: Math.round((this.rows - this.skipped) / Math.max(seconds, 1e-3)) };
    this.log.info(`${this.pass} done`, { ...summary, ...extra });
    return summary;
  }

  private fields(now: number): { pass: string; rows: number; total?: number; rowsPerSec: number; etaSec?: number } {
    const seconds = Math.max((now - this.start) / 1000, 1e-3);
    const rate = (this.rows - this.skipped) / seconds;
    const out: { pass: string; rows: number; total?: number; rowsPerSec: number; etaSec?: number } = {
      pass: this.pass,
      rows: this.rows,
      rowsPerSec: Math.round(rate),
    };
    if (this.total !== undefined) {
      out.total = this.total;
      if (rate > 0) out.etaSec = Math.round(Math.max(0, this.total - this.rows) / rate);
    }
    return out;
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

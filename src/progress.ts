import { crashPoint } from './fault.js';
import type { Logger } from './log.js';

/**
 * Rows/s and ETA for a long pass: a live line on a TTY, a JSON line every few seconds
 * with `--log json`, a text line at most every `log.progressEveryMs` (default 30 s) when
 * stderr is not a terminal (CI logs, nohup), and one summary event at the end. When the
 * logger carries the run's plan (`withPlan`), each line also shows the ETA of the whole run.
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
  private readonly start: number;
  private lastEmit = -Infinity;

  constructor(
    private readonly log: Logger,
    private readonly pass: string,
    private readonly total?: number,
    /** Least ms between JSON lines (default: the logger's `progressEveryMs`, else 5000). */
    private readonly jsonEveryMs?: number,
    /** The clock (ms), for tests. */
    private readonly now: () => number = Date.now,
  ) {
    this.start = now();
  }

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

  /**
   * Counts rows done. Also crash point `progress/<pass>` (`GSSD_CRASH_AT=progress/embed:3` dies
   * after the 3rd batch of the embed pass): a pass reports a batch after doing its work and
   * before any checkpoint, so the kill lands mid-pass, as a random kill would, but always at
   * the same place.
   */
  add(rows: number): void {
    this.rows += rows;
    crashPoint(`progress/${this.pass}`);
    if (this.log.format === 'silent') return;
    const now = this.now();
    if (now - this.lastEmit < this.interval()) return;
    this.lastEmit = now;
    const f = this.fields(now);
    if (this.log.format === 'json') {
      this.log.info('progress', f);
      return;
    }
    const pct = this.total ? ` ${((100 * this.rows) / this.total).toFixed(1)}%` : '';
    const eta = f.etaSec !== undefined ? ` ETA ${formatSeconds(f.etaSec)}` : '';
    const runEta = f.runEtaSec !== undefined ? ` (whole run ETA ${formatSeconds(f.runEtaSec)})` : '';
    const line = `${this.pass}: ${this.rows}${this.total ? '/' + this.total : ''} rows${pct} ${f.rowsPerSec} rows/s${eta}${runEta}`;
    if (this.log.tty) this.log.status(line);
    else this.log.info(line);
  }

  /** Least ms between two progress lines: 250 on a terminal, else the logger's setting. */
  private interval(): number {
    if (this.log.format === 'json') return this.jsonEveryMs ?? this.log.progressEveryMs ?? 5000;
    return this.log.tty ? 250 : (this.log.progressEveryMs ?? 30_000);
  }

  /** Ends the pass; returns its summary (also logged as event `<pass> done`). */
  done(extra: Record<string, unknown> = {}): { pass: string; rows: number; seconds: number; rowsPerSec: number } {
    const seconds = (this.now() - this.start) / 1000;
    const summary = { pass: this.pass, rows: this.rows, seconds: round(seconds), rowsPerSec: Math.round((this.rows - this.skipped) / Math.max(seconds, 1e-3)) };
    this.log.info(`${this.pass} done`, { ...summary, ...extra });
    return summary;
  }

  private fields(now: number): ProgressFields {
    const seconds = Math.max((now - this.start) / 1000, 1e-3);
    const rate = (this.rows - this.skipped) / seconds;
    const out: ProgressFields = {
      pass: this.pass,
      rows: this.rows,
      rowsPerSec: Math.round(rate),
    };
    if (this.total !== undefined) {
      out.total = this.total;
      if (rate > 0) out.etaSec = Math.round(Math.max(0, this.total - this.rows) / rate);
    }
    const runEta = this.log.plan?.etaSec(this.pass, this.rows, rate);
    if (runEta !== undefined) out.runEtaSec = Math.round(runEta);
    return out;
  }
}

/** What one progress line reports; `runEtaSec` is the ETA of the whole run (with a plan). */
type ProgressFields = {
  pass: string;
  rows: number;
  total?: number;
  rowsPerSec: number;
  etaSec?: number;
  runEtaSec?: number;
};

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

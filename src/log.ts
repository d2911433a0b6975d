/**
 * Where a run tells the user what it is doing: stderr, as text or JSON lines.
 * Library code never prints; pipelines receive a `Logger` and the CLI makes one.
 *
 * @example
 *   const log = createLogger({ format: 'json' });
 *   log.info('embed', { rows: 1000 });   // {"ts":"...","level":"info","event":"embed","rows":1000}
 */
import type { RunPlan } from './run-plan.js';

export type LogFormat = 'text' | 'json' | 'silent';

export interface Logger {
  readonly format: LogFormat;
  /** True when stderr is a terminal that can show a live progress line. */
  readonly tty: boolean;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
  /** A transient status line: rewritten in place on a TTY, dropped otherwise. */
  status(text: string): void;
  /** Least ms between progress lines when stderr is not a terminal (default: text 30000, json 5000). */
  readonly progressEveryMs?: number;
  /** The passes of the run, for an ETA over all of them (see `withPlan`). */
  readonly plan?: RunPlan;
}

export interface LoggerOptions {
  format?: LogFormat;
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Least ms between progress lines when the stream is not a terminal (`--progress-every`). */
  progressEveryMs?: number;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stderr;
  const format = options.format ?? 'text';
  const tty = format === 'text' && Boolean(stream.isTTY);
  let statusShown = false;
  const clearStatus = () => {
    if (statusShown) {
      stream.write('\r\x1b[K');
      statusShown = false;
    }
  };
  const emit = (level: 'info' | 'warn' | 'error', event: string, fields: Record<string, unknown> = {}) => {
    if (format === 'silent') return;
    if (format === 'json') {
      stream.write(JSON.stringify({ ts: new Date().toISOString(), level, event, ...fields }, jsonSafe) + '\n');
      return;
    }
    clearStatus();
    const parts = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v, jsonSafe)}`);
    stream.write(`${level === 'info' ? '' : `${level === 'warn' ? 'warning' : 'error'}: `}${event}${parts.length ? ' ' + parts.join(' ') : ''}\n`);
  };
  return {
    format,
    tty,
    progressEveryMs: options.progressEveryMs,
    info: (event, fields) => emit('info', event, fields),
    warn: (event, fields) => emit('warn', event, fields),
    error: (event, fields) => emit('error', event, fields),
    status(text) {
      if (!tty) return;
      stream.write('\r\x1b[K' + text);
      statusShown = true;
    },
  };
}

/**
 * The same logger, carrying the run's plan: every `Progress` of the run then shows the ETA
 * of the whole run besides its own pass's.
 *
 * @example
 *   const runLog = withPlan(log, new RunPlan([{ pass: 'pretrain', units: 50_000, weight: 6 }, { pass: 'embed', units: 5000, weight: 1 }]));
 */
export function withPlan(log: Logger, plan: RunPlan): Logger {
  return {
    format: log.format,
    tty: log.tty,
    progressEveryMs: log.progressEveryMs,
    plan,
    info: (event, fields) => log.info(event, fields),
    warn: (event, fields) => log.warn(event, fields),
    error: (event, fields) => log.error(event, fields),
    status: (text) => log.status(text),
  };
}

/** A logger that says nothing: the default for library calls. */
export const silentLogger: Logger = createLogger({ format: 'silent' });

function jsonSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? Number(value) : value;
}

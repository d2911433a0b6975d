import { InputError } from '../errors.js';
import { Rng, hashString } from '../rng.js';

/** How to retry one remote operation. */
export interface RetryPolicy {
  /** Retries after the first attempt (default 5). */
  retries: number;
  /** Base of the exponential backoff in ms (default 200): delays ~200, 400, 800, ... capped at 10 s. */
  retryDelayMs: number;
  signal?: AbortSignal;
}

/** A fault worth another attempt: 5xx, 429, a reset connection, a timeout, a short body. */
export class RetryableError extends Error {
  constructor(message: string, readonly retryAfterMs?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RetryableError';
  }
}

const RETRY_AFTER_MAX_MS = 10_000;
const BACKOFF_MAX_MS = 10_000;

/** Error codes of network faults that a new attempt may fix. */
const NETWORK_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENETUNREACH',
  'EHOSTUNREACH', 'ENOTFOUND', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

/**
 * Turns an HTTP status that is not a success into the error to throw: retryable for
 * 5xx and 429 (with a small `Retry-After` honoured), a one-line InputError otherwise.
 *
 * @example
 *   if (res.statusCode >= 400) throw statusError(`GET ${url}`, res.statusCode, res.headers['retry-after']);
 */
export function statusError(what: string, status: number, retryAfter?: string | string[]): Error {
  if (status >= 500 || status === 429) {
    return new RetryableError(`HTTP ${status}`, parseRetryAfter(retryAfter));
  }
  return new InputError(`${what}: HTTP ${status}`);
}

function parseRetryAfter(value?: string | string[]): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  const seconds = Number(text);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(text) - Date.now();
  return Number.isFinite(ms) && ms >= 0 && ms <= RETRY_AFTER_MAX_MS ? ms : undefined;
}

/** A short description of a network error: `other side closed (UND_ERR_SOCKET)`. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  const message = err.message || err.name;
  return code && !message.includes(code) ? `${message} (${code})` : message;
}

function isRetryable(err: unknown): boolean {
  if (err instanceof RetryableError) return true;
  if (err instanceof InputError) return false;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  return cause !== undefined && cause !== err && isRetryable(cause);
}

/**
 * Runs `attempt` until it succeeds, retrying retryable faults with exponential backoff
 * (deterministic jitter). After the last retry throws a one-line InputError such as
 * `GET http://host/a.parquet: HTTP 503 after 5 retries`.
 *
 * @example
 *   const bytes = await withRetries(`GET ${url}`, { retries: 5, retryDelayMs: 200 }, () => fetchOnce(url));
 */
export async function withRetries<T>(what: string, policy: RetryPolicy, attempt: () => Promise<T>): Promise<T> {
  const rng = new Rng(hashString(what));
  for (let failures = 0; ; failures++) {
    policy.signal?.throwIfAborted();
    try {
      return await attempt();
    } catch (err) {
      if (policy.signal?.aborted) throw policy.signal.reason;
      if (!isRetryable(err)) {
        if (err instanceof InputError) throw err;
        throw new InputError(`${what}: ${describeError(err)}`, { cause: err });
      }
      if (failures >= policy.retries) {
        throw new InputError(`${what}: ${describeError(err)} after ${policy.retries} retries`, { cause: err });
      }
      const backoff = Math.min(policy.retryDelayMs * 2 ** failures, BACKOFF_MAX_MS) * (0.5 + 0.5 * rng.next());
      const wait = err instanceof RetryableError && err.retryAfterMs !== undefined ? err.retryAfterMs : backoff;
      await sleep(wait, policy.signal);
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort() {
      clearTimeout(timer);
      reject(signal?.reason);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

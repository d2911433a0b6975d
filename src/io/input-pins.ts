import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { isUrl } from './inputs.js';
import { closeHttpAgents, httpAgents, httpGet, type HttpAgents } from './http-get.js';
import { s3Stat } from './s3-stat.js';
import { isS3Uri } from './s3-uri.js';
import { statusError, withRetries, type RetryPolicy } from './retry.js';

/**
 * What identifies the content of one input at the start of a run, so that a resume can tell
 * that it is still the same: for a file its size, modification time and a hash of its Parquet
 * footer (which holds every column chunk's offset, size and statistics), the time in whole ms; for a URL what a HEAD
 * request says: its length, ETag and Last-Modified (each null when the server sends none); for an
 * `s3://` object the same three, from the store (kind `url` too: an S3 object is a URL's content).
 */
export type InputPin =
  | { input: string; kind: 'file'; size: number; mtimeMs: number; footerSha256: string | null }
  | { input: string; kind: 'url'; length: number | null; etag: string | null; lastModified: string | null };

/** Options of {@link pinInputs}: the retries and timeout of the HEAD requests for URLs. */
export interface PinOptions extends Partial<RetryPolicy> {
  timeoutMs?: number;
}

/**
 * The pins of `inputs` (files and URLs), in order.
 *
 * @example
 *   state.inputPins = await pinInputs(inputs);
 *   // on resume:
 *   const changed = changedInput(state.inputPins, await pinInputs(inputs));
 */
export async function pinInputs(inputs: string[], opts: PinOptions = {}): Promise<InputPin[]> {
  const agents = inputs.some(isUrl) ? httpAgents(opts.timeoutMs ?? 30_000) : undefined;
  try {
    const out: InputPin[] = [];
    for (const input of inputs) {
      out.push(isUrl(input) ? await pinUrl(input, agents!, opts) : isS3Uri(input) ? await pinS3(input, opts) : await pinFile(input));
    }
    return out;
  } finally {
    if (agents) closeHttpAgents(agents);
  }
}

/**
 * The first input whose pin differs between `then` and `now`, as a phrase naming the input and
 * what changed (`a.parquet: modified (size 1200 then, 1300 now)`), or null when all are the same.
 *
 * @example
 *   const changed = changedInput(state.inputPins, await pinInputs(inputs));
 *   if (changed) throw new InputError(`${changed}; resume needs the inputs the run started with`);
 */
export function changedInput(then: InputPin[], now: InputPin[]): string | null {
  for (let i = 0; i < Math.max(then.length, now.length); i++) {
    const a = then[i];
    const b = now[i];
    if (!a || !b || a.input !== b.input || a.kind !== b.kind) return `${(a ?? b).input}: not the input the run started with`;
    const diffs: string[] = [];
    const fields = a.kind === 'file' ? (['size', 'mtimeMs', 'footerSha256'] as const) : (['length', 'etag', 'lastModified'] as const);
    for (const k of fields) {
      const x = (a as Record<string, unknown>)[k];
      const y = (b as Record<string, unknown>)[k];
      if (x !== y) diffs.push(`${FIELD_NAMES[k]} ${show(k, x)} then, ${show(k, y)} now`);
    }
    if (diffs.length > 0) return `${a.input}: changed since the run started (${diffs.join('; ')})`;
  }
  return null;
}

const FIELD_NAMES: Record<string, string> = {
  size: 'size',
  mtimeMs: 'modified',
  footerSha256: 'Parquet footer hash',
  length: 'length',
  etag: 'ETag',
  lastModified: 'Last-Modified',
};

function show(key: string, v: unknown): string {
  if (v === null || v === undefined) return 'none';
  if (key === 'mtimeMs') return new Date(v as number).toISOString();
  if (key === 'footerSha256') return String(v).slice(0, 12);
  return String(v);
}

async function pinFile(input: string): Promise<InputPin> {
  let fh;
  try {
    fh = await open(input, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(code === 'ENOENT' ? `${input}: no such file (the run was started with it)` : `${input}: cannot read (${code})`, { cause: err });
  }
  try {
    const info = await fh.stat();
    return { input, kind: 'file', size: info.size, mtimeMs: Math.floor(info.mtimeMs), footerSha256: await footerHash(fh, info.size) };
  } finally {
    await fh.close();
  }
}

/** SHA-256 of a Parquet file's footer and its length field, or null when the file has no Parquet footer. */
async function footerHash(fh: import('node:fs/promises').FileHandle, size: number): Promise<string | null> {
  if (size < 12) return null;
  const tail = Buffer.alloc(8);
  await fh.read(tail, 0, 8, size - 8);
  if (tail.toString('latin1', 4) !== 'PAR1') return null;
  const length = tail.readUInt32LE(0);
  if (length > size - 12) return null;
  const footer = Buffer.alloc(length + 8);
  await fh.read(footer, 0, length + 8, size - 8 - length);
  return createHash('sha256').update(footer).digest('hex');
}

async function pinS3(uri: string, opts: PinOptions): Promise<InputPin> {
  const info = await s3Stat(uri, { retries: opts.retries ?? 5, retryDelayMs: opts.retryDelayMs ?? 200, timeoutMs: opts.timeoutMs ?? 30_000, signal: opts.signal });
  return { input: uri, kind: 'url', length: info.length, etag: info.etag, lastModified: info.lastModified };
}

async function pinUrl(url: string, agents: HttpAgents, opts: PinOptions): Promise<InputPin> {
  const what = `HEAD ${url}`;
  return withRetries(what, { retries: opts.retries ?? 5, retryDelayMs: opts.retryDelayMs ?? 200, signal: opts.signal }, async () => {
    const res = await httpGet(url, { method: 'HEAD', timeoutMs: opts.timeoutMs ?? 30_000, signal: opts.signal, agents });
    await res.body.dump().catch(() => {});
    if (res.statusCode !== 200) throw statusError(what, res.statusCode, res.headers['retry-after']);
    const header = (name: string) => {
      const v = res.headers[name];
      return v === undefined ? null : String(Array.isArray(v) ? v[0] : v);
    };
    const length = header('content-length');
    return { input: url, kind: 'url', length: length === null ? null : Number(length), etag: header('etag'), lastModified: header('last-modified') };
  });
}

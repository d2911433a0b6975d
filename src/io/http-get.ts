/**
 * One HTTP(S) GET over `node:http` / `node:https`, following redirects, with one idle timeout
 * for connecting, the headers and every body chunk. gssd's remote reads use it instead of
 * undici, whose HTTP/1.1 client failed an internal assertion (`assert(!this.paused)`) on
 * servers that answer HTTP/1.0 and end the body by closing the connection, such as
 * `python3 -m http.server`.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';

/** The sockets a run's requests share (keep-alive); destroy them with {@link closeHttpAgents}. */
export interface HttpAgents {
  http: http.Agent;
  https: https.Agent;
}

/** A response body: the stream, plus helpers to read or discard it whole. */
export type HttpBody = Readable & {
  /** Reads and discards the rest of the body (releases the socket). */
  dump(): Promise<void>;
  /** The whole body. */
  arrayBuffer(): Promise<ArrayBuffer>;
};

/** Status, headers and body of one GET. */
export interface HttpResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: HttpBody;
}

/** Options of {@link httpGet}. */
export interface HttpGetOptions {
  /** `GET` (the default) or `HEAD` (headers only: the body is empty). */
  method?: 'GET' | 'HEAD';
  /** A `Range` header value such as `bytes=0-0`. */
  range?: string;
  /** No progress for this long (connecting, waiting for headers, between body chunks) fails the request (ms). */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Keep-alive sockets to use; default: Node's global agents. */
  agents?: HttpAgents;
  /** Redirects followed at most (default 5). */
  maxRedirects?: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Keep-alive agents for one reader session.
 *
 * @example
 *   const agents = httpAgents(30_000);
 *   try { await httpGet(url, { timeoutMs: 30_000, agents }); } finally { closeHttpAgents(agents); }
 */
export function httpAgents(timeoutMs: number): HttpAgents {
  const options = { keepAlive: true, keepAliveMsecs: 1000, timeout: timeoutMs };
  return { http: new http.Agent(options), https: new https.Agent(options) };
}

/** Closes every socket of `agents`. */
export function closeHttpAgents(agents: HttpAgents): void {
  agents.http.destroy();
  agents.https.destroy();
}

/**
 * GETs `url` (identity encoding), following up to `maxRedirects` redirects; with
 * `method: 'HEAD'`, asks for the headers only. Network faults
 * reject with the Node error (`ECONNRESET`, ...), a timeout with code `ETIMEDOUT`; the caller
 * decides what to retry. The body must be read or dumped.
 *
 * @example
 *   const res = await httpGet('http://127.0.0.1:8000/a.parquet', { range: 'bytes=0-0', timeoutMs: 30_000 });
 *   if (res.statusCode === 206) await res.body.dump();
 *   const head = await httpGet(url, { method: 'HEAD', timeoutMs: 30_000 });   // head.headers.etag
 */
export async function httpGet(url: string, options: HttpGetOptions): Promise<HttpResponse> {
  let current = new URL(url);
  for (let redirects = 0; ; redirects++) {
    const res = await getOnce(current, options);
    const location = res.headers.location;
    if (!REDIRECTS.has(res.statusCode ?? 0) || !location) return wrap(res);
    res.resume();
    if (redirects >= (options.maxRedirects ?? 5)) {
      throw Object.assign(new Error(`more than ${options.maxRedirects ?? 5} redirects`), { code: 'ERR_TOO_MANY_REDIRECTS' });
    }
    current = new URL(location, current);
  }
}

function getOnce(url: URL, options: HttpGetOptions): Promise<IncomingMessage> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return Promise.reject(new Error(`unsupported protocol ${url.protocol}`));
  }
  const secure = url.protocol === 'https:';
  const headers: Record<string, string> = { 'accept-encoding': 'identity' };
  if (options.range) headers.range = options.range;
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(url, {
      method: options.method ?? 'GET',
      headers,
      agent: options.agents ? (secure ? options.agents.https : options.agents.http) : undefined,
      signal: options.signal,
      timeout: options.timeoutMs,
    });
    req.on('timeout', () => req.destroy(timeoutError(options.timeoutMs)));
    req.on('error', reject);
    req.on('response', (res) => {
      // from here on the body stream reports errors; keep the request's quiet
      req.removeListener('error', reject);
      req.on('error', (err) => res.destroy(err));
      resolve(res);
    });
    req.end();
  });
}

/** Adds `dump` and `arrayBuffer` to the body (a stall between chunks fails it through the request's timeout). */
function wrap(res: IncomingMessage): HttpResponse {
  const body = res as IncomingMessage & HttpBody;
  body.dump = async () => {
    for await (const _chunk of res) {
      // discard
    }
  };
  body.arrayBuffer = async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    const all = Buffer.concat(chunks);
    return all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
  };
  return { statusCode: res.statusCode ?? 0, headers: res.headers, body };
}

function timeoutError(ms: number): Error {
  return Object.assign(new Error(`timeout: no data for ${ms} ms`), { code: 'ETIMEDOUT' });
}

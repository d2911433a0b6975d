import { mkdir, open, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { httpGet, type HttpAgents, type HttpResponse } from './http-get.js';
import { InputError } from '../errors.js';
import { fileBuffer, type InputBuffer } from './async-buffer.js';
import { RetryableError, statusError, withRetries, type RetryPolicy } from './retry.js';

/** Options of {@link httpBuffer}. */
export interface HttpOptions extends RetryPolicy {
  /** Keep-alive sockets the requests share (close them to release the sockets). Default: Node's global agents. Redirects are followed (up to 5). */
  agents?: HttpAgents;
  /** Time allowed for connecting, for the response headers and between body chunks (ms). */
  timeoutMs: number;
  /** Directory of the temp file of a server without Range support (created if needed; default the OS temp directory). A run passes its own `DIR/tmp`. */
  tempDir?: string;
}

/**
 * Opens an http(s) URL for random reads. When the server answers a `Range` probe with
 * 206 every slice is one range request; otherwise the body is streamed once into a temp
 * file in `tempDir` (removed by `close()`, or at once if the download fails). Every request is retried
 * on 5xx, 429, resets, timeouts and short bodies.
 *
 * @example
 *   const buf = await httpBuffer('http://127.0.0.1:8080/a.parquet', { retries: 5, retryDelayMs: 200, timeoutMs: 30_000 });
 *   try { const footer = await buf.slice(buf.byteLength - 8); } finally { await buf.close(); }
 */
export async function httpBuffer(url: string, options: HttpOptions): Promise<InputBuffer> {
  const what = `GET ${url}`;
  const probe = await withRetries(what, options, async () => {
    const res = await get(url, options, 'bytes=0-0');
    if (res.statusCode === 206) {
      const range = String(res.headers['content-range'] ?? '');
      await res.body.dump();
      const total = /\/(\d+)\s*$/.exec(range);
      if (total) return { ranged: true as const, byteLength: Number(total[1]) };
      // a 206 without a usable total length: fall back to a full download below
      return { ranged: false as const, path: await download(url, options) };
    }
    if (res.statusCode === 200) return { ranged: false as const, path: await saveBody(url, res, options.tempDir) };
    await res.body.dump().catch(() => {});
    throw statusError(what, res.statusCode, res.headers['retry-after']);
  });

  if (!probe.ranged) {
    const local = await fileBuffer(probe.path, url).catch(async (err) => {
      await unlink(probe.path).catch(() => {});
      throw err;
    });
    return {
      name: url,
      byteLength: local.byteLength,
      slice: (start, end) => local.slice(start, end),
      async close() {
        await local.close().finally(() => unlink(probe.path).catch(() => {}));
      },
    };
  }

  const { byteLength } = probe;
  return {
    name: url,
    byteLength,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const stop = Math.min(end ?? byteLength, byteLength);
      if (stop <= start) return new ArrayBuffer(0);
      return withRetries(what, options, async () => {
        const res = await get(url, options, `bytes=${start}-${stop - 1}`);
        if (res.statusCode !== 206) {
          await res.body.dump().catch(() => {});
          if (res.statusCode === 200) throw new InputError(`${what}: the server stopped honouring Range requests`);
          throw statusError(what, res.statusCode, res.headers['retry-after']);
        }
        const body = new Uint8Array(await res.body.arrayBuffer());
        if (body.length !== stop - start) {
          throw new RetryableError(`truncated body: ${body.length} of ${stop - start} bytes (range ${start}-${stop - 1})`);
        }
        return body.buffer.byteLength === body.length ? body.buffer : body.slice().buffer;
      });
    },
    async close() {},
  };
}

function get(url: string, options: HttpOptions, range?: string): Promise<HttpResponse> {
  return httpGet(url, { range, timeoutMs: options.timeoutMs, signal: options.signal, agents: options.agents });
}

/** Downloads the whole body of `url` (no Range) to a temp file; one attempt. */
async function download(url: string, options: HttpOptions): Promise<string> {
  const res = await get(url, options);
  if (res.statusCode !== 200) {
    await res.body.dump().catch(() => {});
    throw statusError(`GET ${url}`, res.statusCode, res.headers['retry-after']);
  }
  return saveBody(url, res, options.tempDir);
}

/** Streams a 200 response body to a temp file, checking its length against Content-Length. */
async function saveBody(url: string, res: HttpResponse, dir = tmpdir()): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `gssd-${process.pid}-${randomUUID()}.parquet`);
  const expected = Number(res.headers['content-length'] ?? NaN);
  let received = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      received += chunk.length;
      done(null, chunk);
    },
  });
  // The file is created before any byte arrives, so a failed download can always unlink it
  // (a lazily opened stream could create it after the unlink below).
  const file = await open(path, 'wx');
  try {
    await pipeline(res.body, counter, file.createWriteStream());
    if (Number.isFinite(expected) && received !== expected) {
      throw new RetryableError(`truncated body: ${received} of ${expected} bytes`);
    }
    return path;
  } catch (err) {
    res.body.destroy();
    await file.close().catch(() => {});
    await unlink(path).catch(() => {});
    throw err;
  }
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { InputError } from '../../src/errors.js';
import { httpBuffer } from '../../src/io/http-buffer.js';
import { readBatches, readChunks } from '../../src/io/read.js';
import { RowHasher, startServer, tempDir, writeSmallDataset, type StaticServer, errorOf } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
let file: string;
let diskHash: string;
const servers: StaticServer[] = [];

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  file = writeSmallDataset(join(dir, 'data.parquet'), 300, { rowGroupSize: 50 });
  diskHash = await hashOf([file]);
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await cleanup();
});

async function hashOf(inputs: string[], opts = {}): Promise<string> {
  const h = new RowHasher();
  for await (const batch of readBatches(inputs, { batchRows: 64, ...opts })) h.update(batch);
  expect(h.rows % 300).toBe(0);
  return h.digest();
}

async function serve(opts: Parameters<typeof startServer>[1]): Promise<StaticServer> {
  const s = await startServer(dir, opts);
  servers.push(s);
  return s;
}

async function tempLeftovers(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((n) => n.startsWith(`gssd-${process.pid}-`));
}


const fast = { retryDelayMs: 10, timeoutMs: 2000 };

describe('remote inputs', () => {
  it('reads the same rows over HTTP with Range support, one range request per row group', async () => {
    const s = await serve({ ranges: true });
    const url = `${s.url}/data.parquet`;
    expect(await hashOf([url], fast)).toBe(diskHash);
    const gets = s.requests.filter((r) => r.method === 'GET');
    expect(gets.every((r) => r.range)).toBe(true);
    // probe + footer + 6 row groups
    expect(gets.length).toBeLessThanOrEqual(1 + 2 + 6);
  });

  it('reads the same rows from a server without Range support via a temp file it removes', async () => {
    const s = await serve({ ranges: false });
    const url = `${s.url}/data.parquet`;
    expect(await hashOf([url, url], fast)).toBe(await hashOf([file, file]));
    expect(s.requests.length).toBe(2);
    expect(await tempLeftovers()).toEqual([]);
  });

  it('prefetches the next inputs\' footers and the next row groups while the consumer works', async () => {
    const s = await serve({ ranges: true });
    const urls = [1, 2, 3].map((n) => `${s.url}/data.parquet?n=${n}`);
    const chunks = readChunks(urls, { ...fast, batchRows: 50, concurrency: 2 });
    await chunks.next();
    await new Promise((r) => setTimeout(r, 100));
    const seen = (n: number) => s.requests.filter((r) => r.url.endsWith(`?n=${n}`)).length;
    expect(seen(2)).toBeGreaterThanOrEqual(2); // probe + footer of the next input
    expect(seen(3)).toBe(0); // beyond the window
    expect(seen(1)).toBeGreaterThanOrEqual(4); // probe, footer, row groups 0 and 1
    await chunks.return(undefined);
  });

  it('follows redirects', async () => {
    const s = await serve({
      ranges: true,
      handler: (req, res) => {
        if (req.url === '/moved.parquet') {
          res.writeHead(302, { location: '/data.parquet' }).end();
          return true;
        }
        return false;
      },
    });
    expect(await hashOf([`${s.url}/moved.parquet`], fast)).toBe(diskHash);
  });

  it('retries a connection reset mid-body', async () => {
    let resets = 0;
    const s = await serve({
      ranges: true,
      handler: (req, res, body) => {
        if (body && req.headers.range && req.headers.range !== 'bytes=0-0' && resets < 3) {
          resets++;
          res.writeHead(206, { 'content-length': 100_000, 'content-range': `bytes 0-99999/${body.length}` });
          res.write(body.subarray(0, 500), () => req.socket.destroy());
          return true;
        }
        return false;
      },
    });
    expect(await hashOf([`${s.url}/data.parquet`], fast)).toBe(diskHash);
    expect(resets).toBe(3);
  });

  it('retries 503 twice then succeeds', async () => {
    let failures = 0;
    const s = await serve({
      ranges: false,
      handler: (_req, res) => {
        if (failures < 2) {
          failures++;
          res.writeHead(503).end('busy');
          return true;
        }
        return false;
      },
    });
    expect(await hashOf([`${s.url}/data.parquet`], fast)).toBe(diskHash);
    expect(failures).toBe(2);
  });

  it('honours a small Retry-After on 429', async () => {
    let failures = 0;
    const s = await serve({
      ranges: true,
      handler: (_req, res) => {
        if (failures < 1) {
          failures++;
          res.writeHead(429, { 'retry-after': '0' }).end();
          return true;
        }
        return false;
      },
    });
    expect(await hashOf([`${s.url}/data.parquet`], fast)).toBe(diskHash);
  });

  it('retries a truncated body (short 206 and short 200)', async () => {
    let shortRanges = 0;
    let shortFull = 0;
    const ranged = await serve({
      ranges: true,
      handler: (req, res, body) => {
        const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
        if (body && m && req.headers.range !== 'bytes=0-0' && shortRanges < 2) {
          shortRanges++;
          const start = Number(m[1]);
          const end = Number(m[2]);
          // chunked: no content-length, so only our length check can notice
          res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${body.length}` });
          res.end(body.subarray(start, start + Math.floor((end - start + 1) / 2)));
          return true;
        }
        return false;
      },
    });
    expect(await hashOf([`${ranged.url}/data.parquet`], fast)).toBe(diskHash);
    expect(shortRanges).toBe(2);
    const full = await serve({
      ranges: false,
      handler: (req, res, body) => {
        if (body && shortFull < 1) {
          shortFull++;
          res.writeHead(200, { 'content-length': body.length });
          res.write(body.subarray(0, 1000), () => req.socket.destroy());
          return true;
        }
        return false;
      },
    });
    expect(await hashOf([`${full.url}/data.parquet`], fast)).toBe(diskHash);
    expect(shortFull).toBe(1);
    expect(await tempLeftovers()).toEqual([]);
  });

  it('gives a one-line InputError after the last retry', async () => {
    const s = await serve({ ranges: true, handler: (_req, res) => (res.writeHead(503).end(), true) });
    const url = `${s.url}/data.parquet`;
    const err = await errorOf(hashOf([url], { ...fast, retries: 2 }));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toBe(`GET ${url}: HTTP 503 after 2 retries`);
    expect(s.requests.length).toBe(3);
  });

  it('fails at once on 404 with a one-line InputError', async () => {
    const s = await serve({ ranges: true });
    const url = `${s.url}/missing.parquet`;
    const err = await errorOf(hashOf([url], fast));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toBe(`GET ${url}: HTTP 404`);
    expect(s.requests.length).toBe(1);
  });

  it('times out a slow server, retries, then reports the URL', async () => {
    let calls = 0;
    const s = await serve({ ranges: true, handler: () => (calls++, true) /* never answers */ });
    const url = `${s.url}/data.parquet`;
    const started = Date.now();
    const err = await errorOf(hashOf([url], { retries: 1, retryDelayMs: 10, timeoutMs: 300 }));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(new RegExp(`^GET ${url.replace(/[.]/g, '\\.')}: .*timeout.* after 1 retries$`, 'i'));
    expect(err.message).not.toContain('\n');
    expect(calls).toBe(2);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('a slow but in-time server succeeds', async () => {
    const s = await serve({
      ranges: true,
      handler: (req, res, body) => {
        if (!body || !req.headers.range) return false;
        setTimeout(() => {
          const [a, b] = req.headers.range!.slice(6).split('-').map(Number);
          res.writeHead(206, { 'content-range': `bytes ${a}-${b}/${body.length}`, 'content-length': b - a + 1 });
          res.end(body.subarray(a, b + 1));
        }, 50);
        return true;
      },
    });
    expect(await hashOf([`${s.url}/data.parquet`], { ...fast, timeoutMs: 1000 })).toBe(diskHash);
  });

  it('stopping early closes the sockets', async () => {
    const s = await serve({ ranges: true });
    const url = `${s.url}/data.parquet`;
    for await (const chunk of readChunks([url, url, url], { ...fast, batchRows: 10 })) {
      if (chunk.rowStart >= 20) break;
    }
    await new Promise((r) => setTimeout(r, 50));
    const open = await new Promise<number>((resolve) => s.server.getConnections((_e, n) => resolve(n)));
    expect(open).toBe(0);
  });

  it('the abort signal stops a read', async () => {
    const s = await serve({ ranges: true, handler: () => true });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stop now')), 100);
    const err = await errorOf(hashOf([`${s.url}/data.parquet`], { ...fast, signal: controller.signal }));
    expect(err.message).toBe('stop now');
  });

  it('the abort signal stops a read waiting for a row group and between batches', async () => {
    let footerSeen = false;
    const s = await serve({
      ranges: true,
      handler: (req) => {
        const m = /^bytes=(\d+)-/.exec(req.headers.range ?? '');
        if (m && Number(m[1]) > 0 && Number(m[1]) < 1000) return true; // row group bytes: hang
        footerSeen ||= !!m && Number(m[1]) > 0;
        return false;
      },
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stop mid-read')), 200);
    const err = await errorOf(hashOf([`${s.url}/data.parquet`], { ...fast, signal: controller.signal }));
    expect(footerSeen).toBe(true);
    expect(err.message).toBe('stop mid-read');

    const c2 = new AbortController();
    const err2 = await errorOf((async () => {
      for await (const chunk of readChunks([file], { batchRows: 10, signal: c2.signal })) {
        if (chunk.rowStart === 20) c2.abort(new Error('stop between batches'));
      }
    })());
    expect(err2.message).toBe('stop between batches');
  });

  it('httpBuffer slices arbitrary ranges', async () => {
    const s = await serve({ ranges: true });
    const buf = await httpBuffer(`${s.url}/data.parquet`, { retries: 0, retryDelayMs: 10, timeoutMs: 1000 });
    const { readFile } = await import('node:fs/promises');
    const bytes = await readFile(file);
    expect(buf.byteLength).toBe(bytes.length);
    expect(new Uint8Array(await buf.slice(10, 20))).toEqual(new Uint8Array(bytes.subarray(10, 20)));
    expect(new Uint8Array(await buf.slice(bytes.length - 4))).toEqual(new Uint8Array(bytes.subarray(bytes.length - 4)));
    expect(basename(buf.name)).toBe('data.parquet');
    await buf.close();
  });
});

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parquetWriteFile, type ColumnSource, type SchemaElement } from 'hyparquet-writer';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import type { RecordBatch } from 'apache-arrow';
import { imageBytesAt, DEFAULT_COLUMNS, type Columns } from '../../src/io/columns.js';

export const SHARED = fileURLToPath(new URL('../../../shared/data', import.meta.url));
export const CIFAR_TRAIN = [0, 1, 2, 3, 4].map((k) => join(SHARED, `cifar10/train-0000${k}-of-00005.parquet`));
export const MNIST_TEST = join(SHARED, 'mnist/test-00000-of-00001.parquet');
export const HAVE_CIFAR = CIFAR_TRAIN.every((p) => existsSync(p));
export const HAVE_MNIST = existsSync(MNIST_TEST);

/** Logs once why a suite is skipped. */
export function noteSkip(have: boolean, what: string): void {
  if (!have) console.warn(`[skip] ${what} not found under ${SHARED}; tests that need it are skipped`);
}

export async function tempDir(prefix = 'gssd-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

const jpegCache = new Map<string, Uint8Array>();

/** A small RGB JPEG of size w x h; 16 distinct images per size (seed mod 16), cached (jpeg-js encoding is slow). */
export function makeJpeg(w: number, h: number, seed = 0): Uint8Array {
  seed %= 16;
  const key = `${w}x${h}:${seed}`;
  let bytes = jpegCache.get(key);
  if (!bytes) jpegCache.set(key, (bytes = encodeJpeg(w, h, seed)));
  return bytes;
}

function encodeJpeg(w: number, h: number, seed: number): Uint8Array {
  const data = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) {
    data[i * 4] = (seed * 37 + i) & 255;
    data[i * 4 + 1] = (seed * 11) & 255;
    data[i * 4 + 2] = (i * 3) & 255;
    data[i * 4 + 3] = 255;
  }
  return new Uint8Array(jpeg.encode({ width: w, height: h, data }, 90).data);
}

/** A PNG of size w x h (RGBA input, colorType 2 = RGB or 0 = grey). */
export function makePng(w: number, h: number, colorType: 0 | 2 | 6 = 2, seed = 0): Uint8Array {
  const png = new PNG({ width: w, height: h, colorType, inputColorType: 6 });
  for (let i = 0; i < w * h; i++) {
    png.data[i * 4] = (seed + i) & 255;
    png.data[i * 4 + 1] = colorType === 0 ? (seed + i) & 255 : (i * 7) & 255;
    png.data[i * 4 + 2] = colorType === 0 ? (seed + i) & 255 : (i * 13) & 255;
    png.data[i * 4 + 3] = 255;
  }
  return new Uint8Array(PNG.sync.write(png, { colorType, inputColorType: 6 }));
}

/** Writes a Parquet file with the given columns. */
export function writeParquet(filename: string, columnData: ColumnSource[], opts: { schema?: SchemaElement[]; rowGroupSize?: number } = {}): string {
  parquetWriteFile({ filename, columnData, schema: opts.schema, rowGroupSize: opts.rowGroupSize ?? 1000, codec: 'UNCOMPRESSED' });
  return filename;
}

/** A small dataset file: `rows` rows of id, label, image (JPEG 8x8). */
export function writeSmallDataset(filename: string, rows: number, opts: { rowGroupSize?: number; withId?: boolean; idBase?: number; labels?: (number | null)[]; images?: Uint8Array[] } = {}): string {
  const columnData: ColumnSource[] = [];
  if (opts.withId !== false) {
    columnData.push({ name: 'id', data: BigInt64Array.from({ length: rows }, (_, i) => BigInt((opts.idBase ?? 0) + i)), type: 'INT64', nullable: false });
  }
  columnData.push({ name: 'label', data: opts.labels ?? Array.from({ length: rows }, (_, i) => i % 10), type: 'INT32', nullable: opts.labels?.includes(null) ?? false });
  columnData.push({ name: 'image', data: opts.images ?? Array.from({ length: rows }, (_, i) => makeJpeg(8, 8, i)), type: 'BYTE_ARRAY', nullable: false });
  return writeParquet(filename, columnData, { rowGroupSize: opts.rowGroupSize });
}

/** Hash of (id, label, image bytes) rows of a batch stream, order-sensitive. */
export class RowHasher {
  private readonly hash = createHash('sha256');
  rows = 0;
  update(batch: RecordBatch, columns: Columns = DEFAULT_COLUMNS): void {
    const ids = batch.getChild(columns.id)!;
    const labels = batch.getChild(columns.label)!;
    for (let i = 0; i < batch.numRows; i++) {
      this.hash.update(`${ids.get(i)}:${labels.get(i)}:`);
      this.hash.update(imageBytesAt(batch, columns, i) ?? new Uint8Array(0));
      this.rows++;
    }
  }
  digest(): string {
    return this.hash.digest('hex');
  }
}

export interface StaticServer {
  url: string;
  server: Server;
  requests: { method: string; range?: string; path: string; url: string }[];
  close(): Promise<void>;
}

/**
 * A loopback HTTP server for files in `root`. `handler` can take over a request (return
 * true when it did); otherwise files are served with (or without) Range support.
 */
export async function startServer(root: string, opts: { ranges: boolean; handler?: (req: IncomingMessage, res: ServerResponse, body: Buffer | null) => boolean | Promise<boolean> }): Promise<StaticServer> {
  const requests: StaticServer['requests'] = [];
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push({ method: req.method ?? 'GET', range: req.headers.range, path, url: req.url ?? '' });
    let body: Buffer | null = null;
    try {
      body = await readFile(join(root, path));
    } catch {
      body = null;
    }
    if (opts.handler && (await opts.handler(req, res, body))) return;
    if (!body) {
      res.writeHead(404).end('not found');
      return;
    }
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (opts.ranges && range) {
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), body.length - 1) : body.length - 1;
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, {
        'content-range': `bytes ${start}-${end}/${body.length}`,
        'content-length': end - start + 1,
        'accept-ranges': 'bytes',
      });
      res.end(req.method === 'HEAD' ? undefined : body.subarray(start, end + 1));
      return;
    }
    res.writeHead(200, { 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function errorOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

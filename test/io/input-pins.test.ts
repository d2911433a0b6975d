import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFile, open, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../../src/errors.js';
import { changedInput, pinInputs } from '../../src/io/input-pins.js';
import { errorOf, startServer, tempDir, writeSmallDataset, type StaticServer } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterAll(async () => cleanup());

/** n rows of stand-in image bytes (pins never decode images). */
const bytes = (n: number, seed: number) => Array.from({ length: n }, (_, i) => new Uint8Array([seed, i, i * 7]));

/** Sets a file's modification time back to `mtime` (a copy or an edit in place moves it). */
const keepMtime = (path: string, mtime: Date) => utimes(path, mtime, mtime);

describe('input pins', () => {
  it('pins a file by size, mtime and Parquet footer; names the file and what changed', async () => {
    const file = writeSmallDataset(join(dir, 'a.parquet'), 40, { images: bytes(40, 1) });
    const other = writeSmallDataset(join(dir, 'b.parquet'), 40, { images: bytes(40, 2).map((b) => Uint8Array.from([...b, 0])) });
    // a whole-second modification time, which utimes restores exactly (a sub-millisecond one may come back 1 ms off)
    const mtime = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    await keepMtime(file, mtime);
    const [pin] = await pinInputs([file]);
    expect(pin).toMatchObject({ input: file, kind: 'file', size: (await stat(file)).size });
    expect(changedInput([pin], await pinInputs([file]))).toBeNull();

    // same name, same row count, another file: size and footer differ
    await copyFile(file, join(dir, 'a.orig'));
    await copyFile(other, file);
    await keepMtime(file, mtime);
    expect(changedInput([pin], await pinInputs([file]))).toMatch(/^.*a\.parquet: changed since the run started \(size \d+ then, \d+ now; Parquet footer hash \w+ then, \w+ now\)$/);

    // the same bytes, touched: the modification time
    await copyFile(join(dir, 'a.orig'), file);
    expect(changedInput([pin], await pinInputs([file]))).toMatch(/a\.parquet: changed since the run started \(modified .* then, .* now\)$/);
    await keepMtime(file, mtime);
    expect(changedInput([pin], await pinInputs([file]))).toBeNull();

    // one byte of the footer edited in place, size and mtime kept: the footer hash alone tells
    const content = await readFile(file);
    const at = content.lastIndexOf(Buffer.from('label'));
    expect(at).toBeGreaterThan(content.length - 8 - content.readUInt32LE(content.length - 8));
    const fh = await open(file, 'r+');
    await fh.write(Buffer.from('L'), 0, 1, at);
    await fh.close();
    await keepMtime(file, mtime);
    expect(changedInput([pin], await pinInputs([file]))).toMatch(/a\.parquet: changed since the run started \(Parquet footer hash \w+ then, \w+ now\)$/);
  });

  it('a file that is gone is a one-line InputError naming it', async () => {
    const err = await errorOf(pinInputs([join(dir, 'gone.parquet')]));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/gone\.parquet: no such file/);
  });

  it('a file that is not Parquet has no footer hash (its size and mtime still pin it)', async () => {
    const path = join(dir, 'text.parquet');
    await writeFile(path, 'hello, not parquet at all');
    const [pin] = await pinInputs([path]);
    expect(pin).toMatchObject({ footerSha256: null });
  });

  it('pins a URL by length, ETag and Last-Modified from a HEAD request', async () => {
    writeSmallDataset(join(dir, 'u.parquet'), 20, { images: bytes(20, 3) });
    let etag = '"v1"';
    const servers: StaticServer[] = [];
    const s = await startServer(dir, {
      ranges: true,
      handler: (req, res, body) => {
        if (req.method !== 'HEAD' || !body) return false;
        res.writeHead(200, { 'content-length': body.length, etag, 'last-modified': 'Tue, 01 Dec 2026 10:00:00 GMT' }).end();
        return true;
      },
    });
    servers.push(s);
    try {
      const url = `${s.url}/u.parquet`;
      const [pin] = await pinInputs([url], { retryDelayMs: 1 });
      expect(pin).toEqual({ input: url, kind: 'url', length: (await stat(join(dir, 'u.parquet'))).size, etag: '"v1"', lastModified: 'Tue, 01 Dec 2026 10:00:00 GMT' });
      expect(s.requests.map((r) => r.method)).toEqual(['HEAD']);
      expect(changedInput([pin], await pinInputs([url]))).toBeNull();
      etag = '"v2"';
      expect(changedInput([pin], await pinInputs([url]))).toBe(`${url}: changed since the run started (ETag "v1" then, "v2" now)`);
      // a list of other inputs is named too
      expect(changedInput([pin], [])).toMatch(/u\.parquet: not the input the run started with/);
    } finally {
      await Promise.all(servers.map((x) => x.close()));
    }
  });
});

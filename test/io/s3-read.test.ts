import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { InputError } from '../../src/errors.js';
import { resolveInputs } from '../../src/io/inputs.js';
import { changedInput, pinInputs } from '../../src/io/input-pins.js';
import { countRows, readChunks, readFooters } from '../../src/io/read.js';
import { setS3Endpoint } from '../../src/io/s3-client.js';
import { RowHasher, errorOf, tempDir, writeSmallDataset } from './helpers.js';
import { TestS3 } from './s3-fixture.js';

/**
 * Reading inputs from a shared directory and from an S3-compatible store (s3rver on
 * 127.0.0.1) must give the same rows: the same assertions run on both backends.
 */
let dir: string;
let cleanup: () => Promise<void>;
let s3: TestS3;
/** The three shards (and a stray non-Parquet file) as local files. */
let local: string[];

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  s3 = await TestS3.start(['lake']);
  setS3Endpoint(s3.endpoint);
  const shards = join(dir, 'shards');
  await mkdir(join(shards, 'nested'), { recursive: true });
  local = [
    writeSmallDataset(join(shards, 'a.parquet'), 23, { rowGroupSize: 10 }),
    writeSmallDataset(join(shards, 'b.parquet'), 7, { rowGroupSize: 5, idBase: 100 }),
    writeSmallDataset(join(shards, 'nested', 'c.parquet'), 12, { rowGroupSize: 10, idBase: 200 }),
  ];
  await writeFile(join(shards, 'notes.txt'), 'not a shard');
  await s3.putDir(shards, 'lake', 'shards/');
  await mkdir(join(dir, 'empty'));
  await s3.put('lake', 'empty/readme.txt', 'no shards here');
});

afterAll(async () => {
  setS3Endpoint(undefined);
  await s3?.close();
  await cleanup?.();
});

/** Where the same files live on each backend. */
const BACKENDS = [
  { name: 'dir', at: (path: string) => join(dir, path), missing: /: cannot open \(ENOENT\)$/, emptyPrefix: /no \.parquet files in this directory/ },
  { name: 's3', at: (path: string) => `s3://lake/${path}`, missing: /: no such object$/, emptyPrefix: /no \.parquet objects under this prefix/ },
] as const;

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function digest(inputs: string[], opts = {}): Promise<{ hash: string; starts: number[][] }> {
  const h = new RowHasher();
  const starts: number[][] = [];
  for await (const c of readChunks(inputs, { batchRows: 4, ...opts })) {
    h.update(c.batch);
    starts.push([c.inputIndex, c.rowGroup, c.rowStart, c.batch.numRows]);
  }
  return { hash: h.digest(), starts };
}

describe.each(BACKENDS)('inputs on $name', (b) => {
  it('a prefix gives its *.parquet files sorted, read row for row as the local files', async () => {
    const inputs = await resolveInputs([b.at('shards/')]);
    expect(inputs).toEqual([b.at('shards/a.parquet'), b.at('shards/b.parquet'), b.at('shards/nested/c.parquet')]);
    expect(await digest(inputs)).toEqual(await digest(local));
    // a resume point inside the second file's second row group
    expect(await digest(inputs, { startRow: 29 })).toEqual(await digest(local, { startRow: 29 }));
    expect(await countRows(inputs)).toBe(42);
    const footers = await readFooters(inputs);
    expect(footers.map((f) => [f.input, f.rows, f.hasId])).toEqual(inputs.map((input, i) => [input, [23, 7, 12][i], true]));
  });

  it('pins each input, and a replaced one is named on resume', async () => {
    const one = b.at('shards/b.parquet');
    const then = await pinInputs([one]);
    expect(then[0].kind).toBe(b.name === 'dir' ? 'file' : 'url');
    expect(changedInput(then, await pinInputs([one]))).toBeNull();
    // the same name, other content
    const other = await readFile(writeSmallDataset(join(dir, 'other.parquet'), 9, { rowGroupSize: 5 }));
    if (b.name === 'dir') await writeFile(one, other);
    else await s3.put('lake', 'shards/b.parquet', other);
    expect(changedInput(then, await pinInputs([one]))).toMatch(new RegExp(`^${escape(one)}: changed since the run started \\(`));
    // the shard back for the other tests (same bytes as before)
    writeSmallDataset(local[1], 7, { rowGroupSize: 5, idBase: 100 });
    if (b.name === 's3') await s3.put('lake', 'shards/b.parquet', await readFile(local[1]));
  });

  it('a missing input or an empty prefix is a one-line InputError naming it', async () => {
    const missing = b.at('shards/gone.parquet');
    const e1 = await errorOf(digest([missing], { retries: 0 }));
    expect(e1).toBeInstanceOf(InputError);
    expect(e1.message).toContain(missing);
    expect(e1.message).toMatch(b.missing);
    expect(e1.message).not.toContain('\n');
    const e2 = await errorOf(resolveInputs([b.at('empty/')]));
    expect(e2).toBeInstanceOf(InputError);
    expect(e2.message).toMatch(b.emptyPrefix);
  });
});

describe('s3 metadata', () => {
  it('gssd test finds the poison target in the footer of an s3:// input', async () => {
    const { poisonTarget } = await import('../../pipelines/test-model.js');
    const { PartSink } = await import('../../src/io/part-sink.js');
    const { readBatches } = await import('../../src/io/read.js');
    const sink = await PartSink.open(join(dir, 'poisoned'), { metadata: { gssd_poison: JSON.stringify({ target: 3 }) } });
    for await (const batch of readBatches([local[1]])) await sink.write(batch);
    await sink.close();
    await s3.putDir(join(dir, 'poisoned'), 'lake', 'poisoned/');
    expect(await poisonTarget('s3://lake/poisoned/part-00000.parquet')).toBe(3);
    expect(await poisonTarget(join(dir, 'poisoned', 'part-00000.parquet'))).toBe(3);
  });
});

describe('s3 endpoint', () => {
  it('comes from AWS_ENDPOINT_URL_S3 when --s3-endpoint is not given (e.g. for gssd worker)', async () => {
    setS3Endpoint(undefined);
    process.env.AWS_ENDPOINT_URL_S3 = s3.endpoint;
    try {
      expect(await countRows(['s3://lake/shards/a.parquet'])).toBe(23);
    } finally {
      delete process.env.AWS_ENDPOINT_URL_S3;
      setS3Endpoint(s3.endpoint);
    }
  });
});

describe('s3 errors', () => {
  it('names the URI for a missing bucket, denied access and an unreachable endpoint', async () => {
    const bucket = await errorOf(digest(['s3://no-such-bucket/a.parquet'], { retries: 0 }));
    expect(bucket).toBeInstanceOf(InputError);
    expect(bucket.message).toBe('s3://no-such-bucket/a.parquet: no such bucket "no-such-bucket"');
    const prefix = await errorOf(resolveInputs(['s3://no-such-bucket/shards/']));
    expect(prefix.message).toBe('s3://no-such-bucket/shards/: no such bucket "no-such-bucket"');

    // a store that refuses every request as S3 does (s3rver checks no credentials)
    let answer = { status: 403, code: 'AccessDenied' };
    const denier = createServer((req, res) => {
      req.resume();
      res.writeHead(answer.status, { 'content-type': 'application/xml' }).end(`<?xml version="1.0"?><Error><Code>${answer.code}</Code><Message>no</Message></Error>`);
    });
    await new Promise<void>((resolve) => denier.listen(0, '127.0.0.1', resolve));
    const deniedAt = `http://127.0.0.1:${(denier.address() as AddressInfo).port}`;
    // a port nothing listens on
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedAt = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    try {
      setS3Endpoint(deniedAt);
      const denied = await errorOf(digest(['s3://lake/shards/a.parquet'], { retries: 0 }));
      expect(denied).toBeInstanceOf(InputError);
      expect(denied.message).toMatch(/^s3:\/\/lake\/shards\/a\.parquet: access denied \(AccessDenied\)/);
      // a bucket in another region than the client's
      answer = { status: 301, code: 'PermanentRedirect' };
      const moved = await errorOf(digest(['s3://lake/shards/a.parquet'], { retries: 0 }));
      expect(moved).toBeInstanceOf(InputError);
      expect(moved.message).toBe('s3://lake/shards/a.parquet: the bucket "lake" is in another region than us-east-1; set AWS_REGION');
      setS3Endpoint(closedAt);
      const down = await errorOf(digest(['s3://lake/shards/a.parquet'], { retries: 1, retryDelayMs: 1 }));
      expect(down).toBeInstanceOf(InputError);
      expect(down.message).toMatch(new RegExp(`^GET s3://lake/shards/a\\.parquet: endpoint ${closedAt} unreachable \\(.*ECONNREFUSED.*\\) after 1 retries$`));
    } finally {
      setS3Endpoint(s3.endpoint);
      denier.closeAllConnections();
      await new Promise<void>((resolve) => denier.close(() => resolve()));
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { Type } from 'apache-arrow';
import { InputError, UsageError } from '../../src/errors.js';
import { countRows, readBatches, readChunks } from '../../src/io/read.js';
import { imageBytesAt, DEFAULT_COLUMNS } from '../../src/io/columns.js';
import { CIFAR_TRAIN, HAVE_CIFAR, RowHasher, makeJpeg, noteSkip, tempDir, writeParquet, writeSmallDataset, errorOf } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir()));
afterAll(() => cleanup());

async function collect(inputs: string[], opts = {}) {
  const out = [];
  for await (const c of readChunks(inputs, opts)) out.push(c);
  return out;
}


describe('readChunks', () => {
  it('yields row groups split into batches with global row starts', async () => {
    const a = writeSmallDataset(join(dir, 'a.parquet'), 25, { rowGroupSize: 10 });
    const b = writeSmallDataset(join(dir, 'b.parquet'), 7, { rowGroupSize: 10, idBase: 100 });
    const chunks = await collect([a, b], { batchRows: 4 });
    expect(chunks.map((c) => [c.inputIndex, c.rowGroup, c.rowStart, c.batch.numRows])).toEqual([
      [0, 0, 0, 4], [0, 0, 4, 4], [0, 0, 8, 2],
      [0, 1, 10, 4], [0, 1, 14, 4], [0, 1, 18, 2],
      [0, 2, 20, 4], [0, 2, 24, 1],
      [1, 0, 25, 4], [1, 0, 29, 3],
    ]);
    const batch = chunks[8].batch;
    expect(batch.schema.fields.map((f) => f.name)).toEqual(['id', 'label', 'image']);
    expect(batch.getChild('id')!.type.typeId).toBe(Type.Int);
    expect(batch.getChild('id')!.get(0)).toBe(100n);
    expect(batch.getChild('label')!.get(1)).toBe(1);
    expect(imageBytesAt(batch, DEFAULT_COLUMNS, 0)).toEqual(makeJpeg(8, 8, 0));
    expect(await countRows([a, b])).toBe(32);
  });

  it('adds a synthetic Int64 id from the global row index when the id column is absent', async () => {
    const a = writeSmallDataset(join(dir, 'noid-a.parquet'), 5, { withId: false });
    const b = writeSmallDataset(join(dir, 'noid-b.parquet'), 3, { withId: false });
    const chunks = await collect([a, b]);
    const ids = chunks.flatMap((c) => [...c.batch.getChild('id')!.toArray()]);
    expect(ids).toEqual([0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n]);
    expect(chunks[0].batch.schema.fields[0].name).toBe('id');
    // custom role names
    const renamed = await collect([a], { columns: { id: 'row_id', label: 'label', image: 'image' } });
    expect([...renamed[0].batch.getChild('row_id')!.toArray()]).toEqual([0n, 1n, 2n, 3n, 4n]);
  });

  it('startRow resumes with exactly the tail, skipping files and row groups', async () => {
    const a = writeSmallDataset(join(dir, 's-a.parquet'), 25, { rowGroupSize: 10, withId: false });
    const b = writeSmallDataset(join(dir, 's-b.parquet'), 12, { rowGroupSize: 5, withId: false });
    const all = (await collect([a, b], { batchRows: 3 })).flatMap((c) => [...c.batch.getChild('id')!.toArray()]);
    for (const start of [0, 1, 10, 13, 24, 25, 26, 36, 37, 50]) {
      const chunks = await collect([a, b], { batchRows: 3, startRow: start });
      const ids = chunks.flatMap((c) => [...c.batch.getChild('id')!.toArray()]);
      expect(ids).toEqual(all.slice(start));
      if (chunks.length) expect(chunks[0].rowStart).toBe(start);
    }
  });

  it('rejects labels outside [0, numClasses) naming file, row group and row', async () => {
    const labels = Array.from({ length: 30 }, (_, i) => (i === 23 ? 12 : i % 10));
    const f = writeSmallDataset(join(dir, 'badlabel.parquet'), 30, { rowGroupSize: 10, labels });
    const err = await errorOf(collect([f], { numClasses: 10 }));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toBe(`${f}: row group 2, row 23: label 12 is outside [0, 10)`);
    // without numClasses it passes
    expect((await collect([f])).length).toBe(3);
  });

  it('rejects negative labels (-1, -3, INT32_MIN) without numClasses, naming file, row group and row', async () => {
    for (const bad of [-1, -3, -2147483648]) {
      const labels = Array.from({ length: 30 }, (_, i) => (i === 17 ? bad : i % 10));
      const f = writeSmallDataset(join(dir, `negative${bad}.parquet`), 30, { rowGroupSize: 10, labels });
      const err = await errorOf(collect([f]));
      expect(err).toBeInstanceOf(InputError);
      expect(err.message).toBe(`${f}: row group 1, row 17: label ${bad} is outside [0, 2^31) (a class index)`);
    }
  });

  it('rejects a null label and a non-integer label column', async () => {
    const f = writeSmallDataset(join(dir, 'nulllabel.parquet'), 4, { labels: [1, 2, null, 3] });
    const err = await errorOf(collect([f]));
    expect(err.message).toBe(`${f}: row group 0, row 2: label is null`);
    const g = writeParquet(join(dir, 'floatlabel.parquet'), [
      { name: 'label', data: [0.5, 1.5], type: 'DOUBLE' },
      { name: 'image', data: [makeJpeg(8, 8), makeJpeg(8, 8)], type: 'BYTE_ARRAY' },
    ]);
    const err2 = await errorOf(collect([g]));
    expect(err2).toBeInstanceOf(InputError);
    expect(err2.message).toBe(`${g}: label column "label" has type DOUBLE, expected an integer type`);
  });

  it('reports a missing label column listing the columns present', async () => {
    const f = writeParquet(join(dir, 'nolabel.parquet'), [
      { name: 'id', data: [1n, 2n], type: 'INT64' },
      { name: 'img', data: [makeJpeg(8, 8), makeJpeg(8, 8)], type: 'BYTE_ARRAY' },
    ]);
    const err = await errorOf(collect([f]));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toBe(`${f}: no label column "label" (columns: id, img)`);
    // a named image column must exist; the default `image` falls back to the one binary column
    const err2 = await errorOf(collect([f], { columns: { id: 'id', label: 'id', image: 'picture' } }));
    expect(err2.message).toBe(`${f}: no image column "picture" (columns: id, img)`);
    const [{ batch }] = await collect([f], { columns: { label: 'id' } });
    expect(batch.getChild('img')!.get(0)).toEqual(makeJpeg(8, 8));
  });

  it('reports corrupt, truncated and non-Parquet files in one line naming the file', async () => {
    const good = writeSmallDataset(join(dir, 'good.parquet'), 20);
    const bytes = await import('node:fs/promises').then((fs) => fs.readFile(good));
    const text = join(dir, 'text.parquet');
    await writeFile(text, 'id,label\n1,2\n');
    const truncated = join(dir, 'truncated.parquet');
    await writeFile(truncated, bytes.subarray(0, bytes.length - 100));
    const corrupt = join(dir, 'corrupt.parquet');
    const damaged = Buffer.from(bytes);
    for (let i = 4; i < damaged.length / 2; i++) damaged[i] = 0xee; // data pages
    await writeFile(corrupt, damaged);
    for (const f of [text, truncated, corrupt]) {
      const err = await errorOf(collect([f]));
      expect(err, f).toBeInstanceOf(InputError);
      expect(err.message.startsWith(`${f}: `)).toBe(true);
      expect(err.message).not.toContain('\n');
      expect(err.cause).toBeDefined();
    }
    const missing = await errorOf(collect([join(dir, 'nope.parquet')]));
    expect(missing).toBeInstanceOf(InputError);
    expect(missing.message).toContain('nope.parquet: cannot open (ENOENT)');
  });

  it('keeps a {bytes, path} struct image column as a struct', async () => {
    const f = writeParquet(join(dir, 'struct.parquet'), [
      { name: 'label', data: [1, 2, 3] },
      { name: 'image', data: [{ bytes: makeJpeg(8, 8, 1), path: 'a.jpg' }, { bytes: makeJpeg(8, 8, 2), path: null }, null] },
    ], {
      schema: [
        { name: 'root', num_children: 2 },
        { name: 'label', type: 'INT32', repetition_type: 'REQUIRED' },
        { name: 'image', repetition_type: 'OPTIONAL', num_children: 2 },
        { name: 'bytes', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' },
        { name: 'path', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
      ],
    });
    const [chunk] = await collect([f]);
    const image = chunk.batch.getChild('image')!;
    expect(image.type.typeId).toBe(Type.Struct);
    expect(imageBytesAt(chunk.batch, DEFAULT_COLUMNS, 0)).toEqual(makeJpeg(8, 8, 1));
    expect(imageBytesAt(chunk.batch, DEFAULT_COLUMNS, 2)).toBeNull();
    expect(image.getChild('path')!.get(0)).toBe('a.jpg');
    expect(image.getChild('path')!.get(1)).toBeNull();
  });

  it('rejects inputs whose columns differ from the first', async () => {
    const a = writeSmallDataset(join(dir, 'd-a.parquet'), 3);
    const b = writeSmallDataset(join(dir, 'd-b.parquet'), 3, { withId: false });
    const err = await errorOf(collect([a, b]));
    expect(err.message).toMatch(/d-b\.parquet: columns differ from .*d-a\.parquet/);
  });

  it('validates options up front', async () => {
    await expect(readChunks(['x'], { batchRows: 0 }).next()).rejects.toThrow(UsageError);
    await expect(readChunks(['x'], { concurrency: 1.5 }).next()).rejects.toThrow('Expected `concurrency` to be an integer from 1 and up, got `1.5`');
  });

  it('stops early without leaking: return() closes the files', async () => {
    const f = writeSmallDataset(join(dir, 'early.parquet'), 50, { rowGroupSize: 10 });
    const before = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length;
    for (let k = 0; k < 5; k++) {
      for await (const c of readChunks([f, f, f], { batchRows: 5 })) {
        if (c.rowStart >= 15) break;
      }
    }
    const { readdir } = await import('node:fs/promises');
    const fds = await readdir('/proc/self/fd').catch(() => null);
    if (fds) {
      const { readlink } = await import('node:fs/promises');
      const open = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
      expect(open.filter((p) => p.endsWith('early.parquet'))).toEqual([]);
    }
    expect((process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length).toBeLessThanOrEqual(before);
  });
});

noteSkip(HAVE_CIFAR, 'CIFAR-10 train shards');
describe.skipIf(!HAVE_CIFAR)('readChunks on CIFAR-10 train shards', () => {
  it('reads all 50,000 rows with ids 0..49999 and 5,000 per class', async () => {
    const counts = new Array(10).fill(0);
    let next = 0n;
    const hasher = new RowHasher();
    for await (const batch of readBatches(CIFAR_TRAIN, { numClasses: 10 })) {
      const ids = batch.getChild('id')!.toArray() as BigInt64Array;
      for (const id of ids) expect(id).toBe(next++);
      for (const l of batch.getChild('label')!.toArray() as Int32Array) counts[l]++;
      hasher.update(batch);
    }
    expect(next).toBe(50000n);
    expect(counts).toEqual(new Array(10).fill(5000));
    expect(await countRows(CIFAR_TRAIN)).toBe(50000);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parquetMetadataAsync } from 'hyparquet';
import { fileBuffer } from '../../src/io/async-buffer.js';
import { Binary, Bool, Field, Float32, Float64, Int32, Int64, Struct, Type, Utf8 } from 'apache-arrow';
import { PartSink, partName } from '../../src/io/part-sink.js';
import { readBatches, readChunks } from '../../src/io/read.js';
import { buildData, makeBatch } from '../../src/io/arrow-data.js';
import { imageBytesAt, DEFAULT_COLUMNS } from '../../src/io/columns.js';
import { CIFAR_TRAIN, HAVE_CIFAR, RowHasher, makeJpeg, noteSkip, tempDir, writeSmallDataset } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir()));
afterAll(() => cleanup());

async function parts(out: string): Promise<string[]> {
  return (await readdir(out)).sort();
}

describe('PartSink', () => {
  it('rolls parts every partRows rows, commits atomically, rows in == rows out', async () => {
    const src = writeSmallDataset(join(dir, 'src.parquet'), 257, { rowGroupSize: 100 });
    const out = join(dir, 'out1');
    const sink = await PartSink.open(out, { partRows: 100, rowGroupRows: 30, metadata: { tool: 'gssd-test' } });
    const hashIn = new RowHasher();
    let seenTmp = false;
    for await (const batch of readBatches([src], { batchRows: 37 })) {
      hashIn.update(batch);
      await sink.write(batch);
      if ((await parts(out)).some((n) => n.endsWith('.tmp'))) seenTmp = true;
    }
    expect(seenTmp).toBe(true);
    expect(sink.rowsWritten).toBe(257);
    await sink.close();
    expect(sink.nextPart).toBe(3);
    expect(await parts(out)).toEqual([partName(0), partName(1), partName(2)]);
    const files = (await parts(out)).map((n) => join(out, n));
    const rowsPer = [];
    for (const f of files) {
      const buf = await fileBuffer(f);
      const md = await parquetMetadataAsync(buf).finally(() => buf.close());
      rowsPer.push(Number(md.num_rows));
      expect(md.row_groups.every((g) => Number(g.num_rows) <= 30)).toBe(true);
      expect(md.key_value_metadata).toContainEqual({ key: 'tool', value: 'gssd-test' });
    }
    expect(rowsPer).toEqual([100, 100, 57]);
    const hashOut = new RowHasher();
    for await (const batch of readBatches(files)) hashOut.update(batch);
    expect(hashOut.digest()).toBe(hashIn.digest());
  });

  it('commit() ends the part early; the next write starts a new one; startPart and stale files', async () => {
    const out = join(dir, 'out2');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'part-00003.parquet.tmp'), 'half');
    await writeFile(join(out, 'part-00004.parquet'), 'from a crashed run after the checkpoint');
    await writeFile(join(out, 'part-00001.parquet'), 'committed before the checkpoint');
    await writeFile(join(out, 'notes.txt'), 'keep me');
    const sink = await PartSink.open(out, { partRows: 1000, startPart: 2 });
    expect(await parts(out)).toEqual(['notes.txt', 'part-00001.parquet']);
    const batch = makeBatch([new Field('id', new Int64(), false)], [buildData(new Int64(), new BigInt64Array([1n, 2n, 3n]), 0, 3)]);
    await sink.write(batch);
    expect(sink.nextPart).toBe(3);
    await sink.commit();
    await sink.commit(); // nothing buffered: no empty part
    await sink.write(batch);
    await sink.close();
    expect(await parts(out)).toEqual(['notes.txt', 'part-00001.parquet', 'part-00002.parquet', 'part-00003.parquet']);
    expect(sink.nextPart).toBe(4);
  });

  it('writes Int64, Int32, Float32/64, Bool, Utf8, Binary, nullable and struct columns that read back the same', async () => {
    const out = join(dir, 'out3');
    const n = 5;
    const fields = [
      new Field('id', new Int64(), false),
      new Field('label', new Int32(), false),
      new Field('f32', new Float32(), true),
      new Field('f64', new Float64(), false),
      new Field('ok', new Bool(), true),
      new Field('name', new Utf8(), true),
      new Field('image', new Struct([new Field('bytes', new Binary(), true), new Field('path', new Utf8(), true)]), true),
      new Field('raw', new Binary(), true),
    ];
    const images = [{ bytes: makeJpeg(8, 8, 1), path: 'a.jpg' }, null, { bytes: makeJpeg(8, 8, 3), path: null }, { bytes: null, path: 'x' }, { bytes: makeJpeg(8, 8, 5), path: 'e.jpg' }];
    const cols = [
      new BigInt64Array([10n, 11n, 12n, 13n, 14n]),
      new Int32Array([0, 1, 2, 3, 4]),
      [0.5, null, 1.5, 2.5, null],
      new Float64Array([0.1, 0.2, 0.3, 0.4, 0.5]),
      [true, false, null, true, true],
      ['a', null, 'ccc', '', 'é'],
      images,
      [new Uint8Array([1, 2]), null, new Uint8Array([]), new Uint8Array([3]), null],
    ];
    const batch = makeBatch(fields, fields.map((f, i) => buildData(f.type, cols[i] as ArrayLike<unknown>, 0, n)));
    const sink = await PartSink.open(out);
    await sink.write(batch);
    await sink.close();
    const [back] = [...await (async () => { const r = []; for await (const c of readChunks([join(out, partName(0))])) r.push(c.batch); return r; })()];
    expect(back.schema.fields.map((f) => `${f.name}:${f.type}:${f.nullable}`)).toEqual(fields.map((f) => `${f.name}:${f.type}:${f.nullable}`));
    expect(back.getChild('image')!.type.typeId).toBe(Type.Struct);
    for (let i = 0; i < n; i++) {
      expect(back.get(i)!.toJSON()).toEqual(batch.get(i)!.toJSON());
      expect(imageBytesAt(back, DEFAULT_COLUMNS, i)).toEqual(images[i]?.bytes ?? null);
    }
  });

  it('abort() leaves no file behind', async () => {
    const out = join(dir, 'out4');
    const sink = await PartSink.open(out);
    await sink.write(makeBatch([new Field('id', new Int64(), false)], [buildData(new Int64(), new BigInt64Array(2000), 0, 2000)]));
    expect((await parts(out)).length).toBe(1);
    await sink.abort();
    expect(await parts(out)).toEqual([]);
  });
});

noteSkip(HAVE_CIFAR, 'CIFAR-10 train shards');
describe.skipIf(!HAVE_CIFAR)('CIFAR-10 round trip', () => {
  it('readChunks -> PartSink -> readChunks keeps ids, labels and image bytes identical', async () => {
    const out = join(dir, 'cifar');
    const sink = await PartSink.open(out, { partRows: 20_000, rowGroupRows: 1000 });
    const before = new RowHasher();
    const started = performance.now();
    for await (const batch of readBatches(CIFAR_TRAIN, { numClasses: 10 })) {
      before.update(batch);
      await sink.write(batch);
    }
    await sink.close();
    const seconds = (performance.now() - started) / 1000;
    console.log(`[figure] CIFAR copy (with hashing): ${Math.round(50000 / seconds)} rows/s`);
    const files = (await parts(out)).map((n) => join(out, n));
    expect(files.length).toBe(3);
    const after = new RowHasher();
    for await (const batch of readBatches(files, { numClasses: 10 })) after.update(batch);
    expect(after.rows).toBe(50000);
    expect(after.digest()).toBe(before.digest());
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Binary, Field, Int32, Int64 } from 'apache-arrow';
import { PNG } from 'pngjs';
import { deflateSync, crc32 } from 'node:zlib';
import { decode, decodeImage, DEFAULT_MAX_IMAGE_PIXELS, PIXELS_COLUMN, REASON_COLUMN } from '../../src/stages/decode.js';
import { sourceSettings } from '../../src/cli/source-options.js';
import { buildData, makeBatch } from '../../src/io/arrow-data.js';
import { readBatches } from '../../src/io/read.js';
import { InputError } from '../../src/errors.js';
import { CIFAR_TRAIN, HAVE_CIFAR, HAVE_MNIST, MNIST_TEST, SHARED, makeJpeg, makePng, noteSkip, tempDir, writeSmallDataset } from '../io/helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir()));
afterAll(() => cleanup());

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('decodeImage', () => {
  it('decodes RGB, grey and RGBA PNG to RGB and keeps exact pixels at the same size', () => {
    const rgb = decodeImage(makePng(4, 4, 2, 9), 4);
    expect(rgb.length).toBe(48);
    expect([...rgb.subarray(0, 6)]).toEqual([9, 0, 0, 10, 7, 13]);
    const grey = decodeImage(makePng(4, 4, 0, 100), 4);
    expect([...grey.subarray(0, 6)]).toEqual([100, 100, 100, 101, 101, 101]);
    const rgba = decodeImage(makePng(4, 4, 6, 1), 4);
    expect([...rgba.subarray(0, 3)]).toEqual([1, 0, 0]);
  });

  it('decodes JPEG and resizes deterministically (up and down)', () => {
    const small = decodeImage(makeJpeg(16, 16, 3), 32);
    expect(small.length).toBe(32 * 32 * 3);
    const big = decodeImage(makeJpeg(48, 40, 3), 32);
    expect(big.length).toBe(32 * 32 * 3);
    expect(decodeImage(makeJpeg(48, 40, 3), 32)).toEqual(big);
    // a flat image stays flat through resampling
    const out = decodeImage(flatPng(10, 7, 77), 32);
    expect(new Set(out).size).toBe(1);
    expect(out[0]).toBe(77);
  });

  it('throws short errors on garbage', () => {
    expect(() => decodeImage(new Uint8Array([1, 2, 3, 4]), 32)).toThrow('not PNG or JPEG');
    const png = makePng(4, 4);
    expect(() => decodeImage(png.subarray(0, 30), 32)).toThrow();
  });
});

/** An RGBA PNG with every channel = v (alpha 255). */
function flatPng(w: number, h: number, v: number): Uint8Array {
  const png = new PNG({ width: w, height: h });
  png.data.fill(v);
  for (let i = 3; i < png.data.length; i += 4) png.data[i] = 255;
  return new Uint8Array(PNG.sync.write(png));
}

describe('decode stage', () => {
  it('adds gssd_pixels and gssd_reason, never drops rows, flags garbage bytes', async () => {
    const images = [makeJpeg(8, 8, 1), new Uint8Array([0xde, 0xad, 0xbe, 0xef]), makePng(8, 8), new Uint8Array([0xff, 0xd8, 0xff, 0, 0, 0])];
    const f = writeSmallDataset(join(dir, 'mixed.parquet'), 4, { images });
    const [batch] = await all(decode(readBatches([f]), { imageSize: 16 }));
    expect(batch.numRows).toBe(4);
    expect(batch.schema.fields.map((x) => x.name)).toEqual(['id', 'label', 'image', PIXELS_COLUMN, REASON_COLUMN]);
    const pixels = batch.getChild(PIXELS_COLUMN)!;
    const reasons = batch.getChild(REASON_COLUMN)!;
    expect(pixels.get(0)!.length).toBe(16 * 16 * 3);
    expect(reasons.get(0)).toBeNull();
    expect(pixels.get(1)).toBeNull();
    expect(reasons.get(1)).toBe('undecodable image: not PNG or JPEG');
    expect(pixels.get(2)!.length).toBe(768);
    expect(pixels.get(3)).toBeNull();
    expect(reasons.get(3)).toMatch(/^undecodable image: \S/);
    expect(reasons.get(3)).not.toContain('\n');
  });

  it('does not decode an image above --max-image-pixels (PNG and JPEG): its row gets the reason', async () => {
    // a decompression bomb: 2000 x 2000 RGB of zeros is 12 MB of pixels in a ~12 KB PNG
    const bomb = bombPng(2000, 2000);
    expect(bomb.length).toBeLessThan(100_000);
    // a 12000 x 12000 header (the 420 KB file would decode to 2 GB): refused from the header alone
    const huge = bombPng(12000, 12000, false);
    const images = [makePng(8, 8), bomb, makeJpeg(64, 64, 2), huge];
    const f = writeSmallDataset(join(dir, 'bombs.parquet'), 4, { images });
    const [limited] = await all(decode(readBatches([f]), { imageSize: 8, maxImagePixels: 4000 }));
    const reasons = limited.getChild(REASON_COLUMN)!;
    const pixels = limited.getChild(PIXELS_COLUMN)!;
    expect(limited.numRows).toBe(4);
    expect(reasons.get(0)).toBeNull();
    expect(reasons.get(1)).toBe('image too large: 2000x2000 pixels, above the limit of 4000 (--max-image-pixels)');
    expect(pixels.get(1)).toBeNull();
    expect(reasons.get(2)).toBe('image too large: 64x64 pixels, above the limit of 4000 (--max-image-pixels)');
    expect(reasons.get(3)).toBe('image too large: 12000x12000 pixels, above the limit of 4000 (--max-image-pixels)');
    // the default limit decodes the 4-megapixel bomb and the JPEG, and still refuses 144 megapixels
    expect(DEFAULT_MAX_IMAGE_PIXELS).toBe(50_000_000);
    const [defaults] = await all(decode(readBatches([f]), { imageSize: 8 }));
    expect([0, 1, 2].map((i) => defaults.getChild(REASON_COLUMN)!.get(i))).toEqual([null, null, null]);
    expect(defaults.getChild(REASON_COLUMN)!.get(3)).toBe('image too large: 12000x12000 pixels, above the limit of 50000000 (--max-image-pixels)');
    // the option
    expect(sourceSettings({ 'max-image-pixels': '1000' }).maxImagePixels).toBe(1000);
    expect(sourceSettings({}).maxImagePixels).toBe(DEFAULT_MAX_IMAGE_PIXELS);
    expect(() => sourceSettings({ 'max-image-pixels': '0' })).toThrow(/--max-image-pixels/);
  });

  it('handles a null image cell', async () => {
    const batch = makeBatch(
      [new Field('id', new Int64(), false), new Field('label', new Int32(), false), new Field('image', new Binary(), true)],
      [buildData(new Int64(), [1n, 2n], 0, 2), buildData(new Int32(), [0, 1], 0, 2), buildData(new Binary(), [null, makeJpeg(8, 8)], 0, 2)],
    );
    const [out] = await all(decode((async function* () { yield batch; })()));
    expect(out.getChild(REASON_COLUMN)!.get(0)).toBe('undecodable image: no image bytes');
    expect(out.getChild(PIXELS_COLUMN)!.get(1)!.length).toBe(3072);
  });

  it('takes the columns option readBatches takes; a missing image column is an InputError naming it', async () => {
    const batch = makeBatch(
      [new Field('label', new Int32(), false), new Field('picture', new Binary(), true), new Field('thumb', new Binary(), true)],
      [buildData(new Int32(), [0], 0, 1), buildData(new Binary(), [makeJpeg(8, 8)], 0, 1), buildData(new Binary(), [null], 0, 1)],
    );
    const one = () => (async function* () { yield batch; })();
    const [out] = await all(decode(one(), { columns: { image: 'picture' } }));
    expect(out.getChild(REASON_COLUMN)!.get(0)).toBeNull();
    const err = await all(decode(one())).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toBe('decode: no image column "image" (columns: label, picture, thumb); pass `columns: { image: NAME }`');
  });
});

noteSkip(HAVE_MNIST, 'MNIST test shard');
describe.skipIf(!HAVE_MNIST)('decode MNIST PNGs', () => {
  it('gives 32x32x3, grey replicated to RGB, resized from 28x28', async () => {
    const raw = await readFile(join(SHARED, 'mnist/test_x.u8'));
    let rows = 0;
    for await (const batch of decode(readBatches([MNIST_TEST], { numClasses: 10, batchRows: 500 }), { imageSize: 32 })) {
      const pixels = batch.getChild(PIXELS_COLUMN)!;
      expect(batch.getChild(REASON_COLUMN)!.nullCount).toBe(batch.numRows);
      const px = pixels.get(0)!;
      expect(px.length).toBe(3072);
      for (let i = 0; i < 3072; i += 3) expect(px[i] === px[i + 1] && px[i] === px[i + 2]).toBe(true);
      rows += batch.numRows;
      if (rows >= 2000) break;
    }
    // at native size the PNG gives back the exact idx pixels
    const batches = readBatches([MNIST_TEST], { batchRows: 10 });
    const { value } = await batches.next();
    await batches.return(undefined);
    const img = value!.getChild('image')!.get(3) as Uint8Array;
    const exact = decodeImage(img, 28);
    for (let p = 0; p < 784; p++) expect(exact[p * 3]).toBe(raw[3 * 784 + p]);
  });
});

noteSkip(HAVE_CIFAR, 'CIFAR-10 train shards');
describe.skipIf(!HAVE_CIFAR)('decode CIFAR-10 JPEGs', () => {
  it('matches the libjpeg-turbo pixels of test_x.u8 within JPEG-decoder tolerance', async () => {
    const raw = await readFile(join(SHARED, 'cifar10/test_x.u8'));
    let diff = 0;
    let n = 0;
    for await (const batch of decode(readBatches([join(SHARED, 'cifar10/test-00000-of-00001.parquet')], { batchRows: 200 }))) {
      const ids = batch.getChild('id')!;
      const pixels = batch.getChild(PIXELS_COLUMN)!;
      for (let i = 0; i < batch.numRows; i++) {
        const px = pixels.get(i)!;
        const ref = raw.subarray(Number(ids.get(i)) * 3072, Number(ids.get(i)) * 3072 + 3072);
        for (let k = 0; k < 3072; k++) diff += Math.abs(px[k] - ref[k]);
        n += 3072;
      }
      break;
    }
    expect(diff / n).toBeLessThan(3); // README: jpeg-js vs libjpeg-turbo differ by ~1.47 on average
  });

  it('decodes every image of a whole CIFAR-10 shard (speed: npm run bench:perf)', async () => {
    let rows = 0;
    let failed = 0;
    for await (const batch of decode(readBatches([CIFAR_TRAIN[0]], { batchRows: 1024 }))) {
      rows += batch.numRows;
      failed += batch.getChild(PIXELS_COLUMN)!.nullCount;
    }
    expect(rows).toBe(10000);
    expect(failed).toBe(0);
  });
});

/** An RGB PNG of zeros, `w` x `h`, highly compressed; `complete: false` writes the header and a token IDAT only. */
function bombPng(w: number, h: number, complete = true): Uint8Array {
  const chunk = (type: string, data: Uint8Array) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, 'latin1');
    out.set(data, 8);
    out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const raw = complete ? Buffer.alloc(h * (1 + 3 * w)) : Buffer.alloc(1 + 3 * w);
  const signature = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return new Uint8Array(Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', new Uint8Array(0))]));
}

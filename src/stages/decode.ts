import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { Binary, Field, Utf8, makeData, type RecordBatch } from 'apache-arrow';
import { InputError, UsageError } from '../errors.js';
import { buildData, withColumns } from '../io/arrow-data.js';
import { imageBytesOf, imageColumnOf, resolveColumns, type Columns, type ColumnsOption } from '../io/columns.js';
import { imageInfo } from '../io/image-info.js';

/** Column added by {@link decode}: `imageSize*imageSize*3` bytes, uint8 HWC RGB; null when undecodable. */
export const PIXELS_COLUMN = 'gssd_pixels';
/** Column added by {@link decode}: null, or why the image could not be decoded. */
export const REASON_COLUMN = 'gssd_reason';

/**
 * Largest image decoded, in pixels (width x height), PNG and JPEG alike: a small file can
 * claim a huge size (a 420 KB PNG of 12000 x 12000 pixels decodes to 2 GB), so the size in
 * the header is checked before decoding; a larger image rejects its row.
 */
export const DEFAULT_MAX_IMAGE_PIXELS = 50_000_000;

/** Options of {@link decode}. */
export interface DecodeOptions {
  /** The column names, as given to `readBatches` (default `image`, or the one image-typed column). */
  columns?: ColumnsOption;
  /** Side of the square output image in pixels (default 32). */
  imageSize?: number;
  /** Images with more pixels than this are not decoded; their rows get a reason (default {@link DEFAULT_MAX_IMAGE_PIXELS}). */
  maxImagePixels?: number;
}

/**
 * Decodes the image of every row into `gssd_pixels` (uint8 HWC RGB, `imageSize` square) and
 * records failures in `gssd_reason` (`undecodable image: ...`). Never drops a row.
 *
 * @example
 *   for await (const batch of decode(readBatches(inputs), { imageSize: 32 })) {
 *     const pixels = batch.getChild('gssd_pixels')!.get(0); // Uint8Array(3072) or null
 *   }
 */
export async function* decode(source: AsyncIterable<RecordBatch>, opts: DecodeOptions = {}): AsyncGenerator<RecordBatch> {
  const columns = resolveColumns(opts.columns);
  const size = opts.imageSize ?? 32;
  const maxPixels = opts.maxImagePixels ?? DEFAULT_MAX_IMAGE_PIXELS;
  if (!Number.isInteger(size) || size < 1) throw new UsageError(`Expected \`imageSize\` to be an integer from 1 and up, got \`${size}\``);
  if (!Number.isInteger(maxPixels) || maxPixels < 1) throw new UsageError(`Expected \`maxImagePixels\` to be an integer from 1 and up, got \`${maxPixels}\``);
  for await (const batch of source) yield decodeBatch(batch, columns, size, maxPixels);
}

/**
 * Adds `gssd_pixels` and `gssd_reason` to one batch (see {@link decode}).
 *
 * @example
 *   const out = decodeBatch(batch, DEFAULT_COLUMNS, 32);
 */
export function decodeBatch(batch: RecordBatch, columns: Columns, size: number, maxPixels = DEFAULT_MAX_IMAGE_PIXELS): RecordBatch {
  const image = imageColumnOf(batch.schema.fields, columns.image);
  const images = image === null ? null : batch.getChild(image);
  if (!images) {
    throw new InputError(`decode: no image column "${columns.image}" (columns: ${batch.schema.fields.map((f) => f.name).join(', ')}); pass \`columns: { image: NAME }\``);
  }
  const n = batch.numRows;
  const stride = size * size * 3;
  const pixels = new Uint8Array(n * stride);
  const valueOffsets = new Int32Array(n + 1);
  const nullBitmap = new Uint8Array((n + 7) >> 3);
  const reasons: (string | null)[] = new Array(n).fill(null);
  let offset = 0;
  let nullCount = 0;
  for (let i = 0; i < n; i++) {
    const bytes = imageBytesOf(images, i);
    try {
      if (!bytes) throw new Error('no image bytes');
      pixels.set(decodeImage(bytes, size, maxPixels), offset);
      offset += stride;
      nullBitmap[i >> 3] |= 1 << (i & 7);
    } catch (err) {
      nullCount++;
      reasons[i] = err instanceof ImageTooLarge ? err.message : `undecodable image: ${shortMessage(err)}`;
    }
    valueOffsets[i + 1] = offset;
  }
  const pixelData = makeData({
    type: new Binary(),
    length: n,
    nullCount,
    nullBitmap: nullCount ? nullBitmap : undefined,
    valueOffsets,
    data: offset === pixels.length ? pixels : pixels.slice(0, offset),
  });
  return withColumns(
    batch,
    [new Field(PIXELS_COLUMN, new Binary(), true), new Field(REASON_COLUMN, new Utf8(), true)],
    [pixelData, buildData(new Utf8(), reasons, 0, n)],
  );
}

/**
 * Decodes PNG or JPEG bytes to `size`x`size` RGB (uint8, HWC): grey and alpha are
 * dropped to RGB (alpha ignored), other sizes resampled with a deterministic bilinear
 * filter (antialiased when shrinking). Throws a short Error when the bytes cannot be decoded.
 *
 * @example
 *   const rgb = decodeImage(pngBytes, 32); // Uint8Array(3072)
 */
export function decodeImage(bytes: Uint8Array, size: number, maxPixels = DEFAULT_MAX_IMAGE_PIXELS): Uint8Array {
  let width: number;
  let height: number;
  let rgb: Uint8Array;
  const header = imageInfo(bytes);
  if (header.width !== null && header.height !== null && header.width * header.height > maxPixels) {
    throw new ImageTooLarge(`image too large: ${header.width}x${header.height} pixels, above the limit of ${maxPixels} (--max-image-pixels)`);
  }
  if (isPng(bytes)) {
    const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    ({ width, height } = png);
    rgb = rgbaToRgb(png.data, width * height);
  } else if (isJpeg(bytes)) {
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxResolutionInMP: maxPixels / 1e6, maxMemoryUsageInMB: 1024 });
    ({ width, height } = img);
    rgb = img.data;
    if (rgb.length < width * height * 3) throw new Error('JPEG decoded to fewer pixels than its size');
  } else {
    throw new Error('not PNG or JPEG');
  }
  if (!(width > 0 && height > 0)) throw new Error(`image has size ${width}x${height}`);
  return width === size && height === size ? rgb.subarray(0, size * size * 3) : resize(rgb, width, height, size, size);
}

/** An image whose header claims more pixels than allowed (not decoded). */
export class ImageTooLarge extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageTooLarge';
  }
}

function isPng(b: Uint8Array): boolean {
  return b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47;
}

function isJpeg(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
}

function rgbaToRgb(rgba: Uint8Array, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels * 3);
  for (let p = 0, q = 0; p < pixels; p++, q += 4) {
    out[p * 3] = rgba[q];
    out[p * 3 + 1] = rgba[q + 1];
    out[p * 3 + 2] = rgba[q + 2];
  }
  return out;
}

/** Per-output-pixel source indices and weights of a triangle filter (PIL's BILINEAR). */
function filterTaps(inSize: number, outSize: number): { first: Int32Array; count: Int32Array; weights: Float32Array; taps: number } {
  const scale = inSize / outSize;
  const support = Math.max(1, scale); // antialias when shrinking
  const taps = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float32Array(outSize * taps);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(center - support));
    const hi = Math.min(inSize, Math.ceil(center + support));
    let sum = 0;
    let k = 0;
    for (let s = lo; s < hi && k < taps; s++, k++) {
      const w = Math.max(0, 1 - Math.abs((s + 0.5 - center) / support));
      weights[o * taps + k] = w;
      sum += w;
    }
    for (let j = 0; j < k; j++) weights[o * taps + j] /= sum || 1;
    first[o] = lo;
    count[o] = k;
  }
  return { first, count, weights, taps };
}

/** Separable resampling of HWC RGB `w`x`h` to `ow`x`oh`. */
function resize(src: Uint8Array, w: number, h: number, ow: number, oh: number): Uint8Array {
  const fx = filterTaps(w, ow);
  const fy = filterTaps(h, oh);
  const tmp = new Float32Array(h * ow * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < ow; x++) {
      let r = 0, g = 0, b = 0;
      const base = x * fx.taps;
      for (let k = 0; k < fx.count[x]; k++) {
        const wgt = fx.weights[base + k];
        const si = (y * w + fx.first[x] + k) * 3;
        r += src[si] * wgt;
        g += src[si + 1] * wgt;
        b += src[si + 2] * wgt;
      }
      const ti = (y * ow + x) * 3;
      tmp[ti] = r;
      tmp[ti + 1] = g;
      tmp[ti + 2] = b;
    }
  }
  const out = new Uint8Array(oh * ow * 3);
  for (let y = 0; y < oh; y++) {
    const base = y * fy.taps;
    for (let x = 0; x < ow; x++) {
      let r = 0, g = 0, b = 0;
      for (let k = 0; k < fy.count[y]; k++) {
        const wgt = fy.weights[base + k];
        const ti = ((fy.first[y] + k) * ow + x) * 3;
        r += tmp[ti] * wgt;
        g += tmp[ti + 1] * wgt;
        b += tmp[ti + 2] * wgt;
      }
      const oi = (y * ow + x) * 3;
      out[oi] = clampByte(r);
      out[oi + 1] = clampByte(g);
      out[oi + 2] = clampByte(b);
    }
  }
  return out;
}

function clampByte(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}

function shortMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const line = text.split('\n')[0].trim() || 'unknown error';
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

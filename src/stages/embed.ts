import { Field, FixedSizeList, Float32, Utf8, makeData, type Data, type RecordBatch } from 'apache-arrow';
import { buildData, withColumns } from '../io/arrow-data.js';

export type { ImageEncoder } from '../models/image-encoder.js';
import type { ImageEncoder } from '../models/image-encoder.js';

/** Name of the column `embed` adds: FixedSizeList<Float32>[featureDim], null where there is no image. */
export const EMBEDDING_COLUMN = 'gssd_h';

/**
 * The embed stage (docs/method.md, step 1, extraction: no augmentation): for every row with decoded
 * pixels (`gssd_pixels`, from `decode`) adds its feature vector h as `gssd_h`. Rows without
 * pixels, or whose embedding is not finite, get a null `gssd_h` and a `gssd_reason`. Never
 * drops rows.
 *
 * @example
 *   import { pipe } from 'it-pipe';
 *   const out = pipe(readBatches(files), (s) => decode(s, { columns }), (s) => embed(s, { encoder }));
 *   for await (const batch of out) console.log(batch.getChild('gssd_h'));
 */
export async function* embed(
  source: AsyncIterable<RecordBatch>,
  { encoder }: { encoder: ImageEncoder },
): AsyncGenerator<RecordBatch> {
  for await (const batch of source) {
    const { features, valid, reasons } = await embedBatch(batch, encoder);
    const d = encoder.featureDim;
    yield withColumns(
      batch,
      [new Field(EMBEDDING_COLUMN, new FixedSizeList(d, new Field('item', new Float32(), false)), true), new Field('gssd_reason', new Utf8(), true)],
      [fixedSizeListData(features, valid, d), buildData(new Utf8(), reasons, 0, reasons.length)],
    );
  }
}

/**
 * Embeds the decoded rows of one batch: `features` is numRows x featureDim (zeros where
 * `valid` is 0), `reasons` says why a row has no embedding (or carries decode's reason).
 */
export async function embedBatch(
  batch: RecordBatch,
  encoder: ImageEncoder,
): Promise<{ features: Float32Array; valid: Uint8Array; reasons: (string | null)[] }> {
  const n = batch.numRows;
  const d = encoder.featureDim;
  const pixelsCol = batch.getChild('gssd_pixels');
  if (!pixelsCol) throw new Error('embed needs the gssd_pixels column: run the decode stage first');
  const reasonCol = batch.getChild('gssd_reason');
  const bytes = encoder.imageSize * encoder.imageSize * 3;
  const rows: number[] = [];
  const reasons: (string | null)[] = new Array(n).fill(null);
  for (let i = 0; i < n; i++) {
    const px = pixelsCol.get(i) as Uint8Array | null;
    if (px && px.length === bytes) rows.push(i);
    else reasons[i] = (reasonCol?.get(i) as string | null) ?? (px ? `decoded image has ${px.length} bytes, the encoder needs ${bytes}` : 'no decoded image');
  }
  const packed = new Uint8Array(rows.length * bytes);
  rows.forEach((row, k) => packed.set(pixelsCol.get(row) as Uint8Array, k * bytes));
  const h = rows.length ? await encoder.embed(packed, rows.length) : new Float32Array(0);
  const features = new Float32Array(n * d);
  const valid = new Uint8Array(n);
  rows.forEach((row, k) => {
    const v = h.subarray(k * d, (k + 1) * d);
    let finite = true;
    for (let j = 0; j < d; j++) if (!Number.isFinite(v[j])) finite = false;
    if (!finite) {
      reasons[row] = 'non-finite embedding (NaN or Inf)';
      return;
    }
    features.set(v, row * d);
    valid[row] = 1;
  });
  return { features, valid, reasons };
}

/**
 * What the embed stage added to a batch, read back: `features` is numRows x featureDim (zeros
 * where `valid` is 0) and `reasons` the `gssd_reason` of each row (null where none).
 *
 * @example
 *   for await (const b of embed(batches, { encoder })) {
 *     const { features, valid } = embeddingsOf(b, encoder.featureDim);
 *   }
 */
export function embeddingsOf(batch: RecordBatch, featureDim: number): { features: Float32Array; valid: Uint8Array; reasons: (string | null)[] } {
  const h = batch.getChild(EMBEDDING_COLUMN);
  if (!h) throw new Error('embeddingsOf needs the gssd_h column: run the embed stage first');
  const reasonCol = batch.getChild('gssd_reason');
  const n = batch.numRows;
  const features = new Float32Array(n * featureDim);
  const valid = new Uint8Array(n);
  const reasons: (string | null)[] = new Array(n).fill(null);
  for (let i = 0; i < n; i++) {
    reasons[i] = (reasonCol?.get(i) as string | null) ?? null;
    if (!h.isValid(i)) continue;
    features.set(h.get(i)!.toArray() as Float32Array, i * featureDim);
    valid[i] = 1;
  }
  return { features, valid, reasons };
}

/** Arrow Data for a FixedSizeList<Float32>[d] column with a validity mask. */
export function fixedSizeListData(values: Float32Array, valid: Uint8Array, d: number): Data {
  const n = valid.length;
  const bitmap = new Uint8Array((n + 7) >> 3);
  let nullCount = 0;
  for (let i = 0; i < n; i++) {
    if (valid[i]) bitmap[i >> 3] |= 1 << (i & 7);
    else nullCount++;
  }
  const child = makeData({ type: new Float32(), length: n * d, data: values });
  return makeData({
    type: new FixedSizeList(d, new Field('item', new Float32(), false)),
    length: n,
    nullCount,
    nullBitmap: nullCount ? bitmap : undefined,
    child,
  });
}

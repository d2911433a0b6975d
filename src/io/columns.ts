import type { RecordBatch, Vector } from 'apache-arrow';

/**
 * Names of the columns that play a role in the pipeline. All other input columns are
 * carried through unchanged.
 *
 * @example
 *   const columns: Columns = { ...DEFAULT_COLUMNS, image: 'img' };
 */
export interface Columns {
  /** Row id, Arrow Int64 (BigInt values). Synthesised from the global row index when absent. */
  id: string;
  /** Class label, Arrow Int32. */
  label: string;
  /** Encoded image: Binary, or a Struct `{bytes: Binary, path: Utf8}` as Hugging Face writes it. */
  image: string;
}

/** The column names used when the user gives none: `id`, `label`, `image`. */
export const DEFAULT_COLUMNS: Readonly<Columns> = Object.freeze({ id: 'id', label: 'label', image: 'image' });

/**
 * The encoded image bytes of row `i`, whether the image column is Binary or a
 * `{bytes, path}` Struct; null when the cell (or its `bytes`) is null.
 *
 * @example
 *   for (let i = 0; i < batch.numRows; i++) {
 *     const bytes = imageBytesAt(batch, DEFAULT_COLUMNS, i);
 *   }
 */
export function imageBytesAt(batch: RecordBatch, columns: Columns, i: number): Uint8Array | null {
  const vector = batch.getChild(columns.image);
  if (!vector) throw new Error(`batch has no image column "${columns.image}"`);
  return imageBytesOf(vector, i);
}

/** Like {@link imageBytesAt} for an already looked-up image column vector. */
export function imageBytesOf(vector: Vector, i: number): Uint8Array | null {
  if (!vector.isValid(i)) return null;
  const bytesChild = vector.type.children?.length ? vector.getChild('bytes') : null;
  if (bytesChild) return (bytesChild.get(i) as Uint8Array | null) ?? null;
  const value = vector.get(i) as unknown;
  return value instanceof Uint8Array ? value : null;
}

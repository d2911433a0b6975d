import { Type, type DataType, type Field, type RecordBatch, type Vector } from 'apache-arrow';

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
 * The `columns` option every stage and pass takes (`readBatches`, `decode`, `cleanse`,
 * `pretrain`): any of the names, the rest from `DEFAULT_COLUMNS`. Give the same value to
 * each stage of a pipeline.
 */
export type ColumnsOption = Partial<Columns>;

/**
 * The full column names of a `columns` option.
 *
 * @example
 *   resolveColumns({ image: 'img' });   // { id: 'id', label: 'label', image: 'img' }
 */
export function resolveColumns(columns?: ColumnsOption): Columns {
  return { ...DEFAULT_COLUMNS, ...Object.fromEntries(Object.entries(columns ?? {}).filter(([, v]) => v !== undefined)) };
}

/**
 * Whether an Arrow type can hold encoded images: Binary, or a struct with a Binary `bytes`
 * child (Hugging Face `datasets` writes `{bytes, path}`).
 *
 * @example
 *   isImageType(batch.schema.fields[2].type);
 */
export function isImageType(type: DataType): boolean {
  if (type.typeId === Type.Binary) return true;
  return type.typeId === Type.Struct && (type.children ?? []).some((c: Field) => c.name === 'bytes' && c.type.typeId === Type.Binary);
}

/**
 * The image column of a batch: `name` when present, else the one column of an image type
 * when `name` is the default (`image`) and exactly one such column exists; else null.
 *
 * @example
 *   const image = imageColumnOf(batch.schema.fields, 'image');   // 'img' for a Hugging Face file
 */
export function imageColumnOf(fields: readonly { name: string; type: DataType }[], name: string): string | null {
  if (fields.some((f) => f.name === name)) return name;
  if (name !== DEFAULT_COLUMNS.image) return null;
  const candidates = fields.filter((f) => !f.name.startsWith('gssd_') && isImageType(f.type));
  return candidates.length === 1 ? candidates[0].name : null;
}

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
  const name = imageColumnOf(batch.schema.fields, columns.image);
  const vector = name === null ? null : batch.getChild(name);
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

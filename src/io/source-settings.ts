/**
 * How the inputs are read (batch size, columns, image size, HTTP settings): the settings
 * type, its defaults and its mapping to the reader's options. The CLI parses its input
 * options into these (`src/cli/source-options.ts`); the pipelines only read them.
 */
import type { ReadOptions } from './read.js';
import { DEFAULT_COLUMNS, resolveColumns, type Columns, type ColumnsOption } from './columns.js';

/** How the inputs are read: the `source` of `cleanse`, `pretrain`, `train` and the jobs. */
export interface SourceSettings {
  /** Rows per Arrow batch (default 1024). */
  batchRows: number;
  /** The id, label and image columns (default `id`, `label`, `image`; see `ColumnsOption`). */
  columns: Columns;
  /** Side of the square images the pipeline decodes to (default 32). */
  imageSize: number;
  /** Number of classes (default: 1 + the largest label seen); labels outside are an error. */
  numClasses?: number;
  /** Retries per HTTP request (default 5). */
  retries: number;
  /** Remote shards prefetched at once (default 2). */
  concurrency: number;
  /** Per HTTP request, ms (default 30000). */
  timeoutMs: number;
  /** Images with more pixels are not decoded (rows rejected); default `DEFAULT_MAX_IMAGE_PIXELS`. */
  maxImagePixels?: number;
}

/** The source settings' defaults (the CLI's too). */
export const SOURCE_DEFAULTS: Readonly<SourceSettings> = Object.freeze({
  batchRows: 1024,
  columns: DEFAULT_COLUMNS,
  imageSize: 32,
  retries: 5,
  concurrency: 2,
  timeoutMs: 30_000,
});

/** Source settings as a library caller gives them: any of them, `columns` partly. */
export type SourceOption = Partial<Omit<SourceSettings, 'columns'>> & { columns?: ColumnsOption };

/**
 * Full source settings from a partial `source` and a `columns` option (which wins over
 * `source.columns`), the rest from `SOURCE_DEFAULTS`.
 *
 * @example
 *   resolveSource({ imageSize: 64 }, { image: 'img' }).columns;   // { id: 'id', label: 'label', image: 'img' }
 */
export function resolveSource(source: SourceOption = {}, columns?: ColumnsOption): SourceSettings {
  const defined = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined));
  return { ...SOURCE_DEFAULTS, ...defined, columns: resolveColumns({ ...source.columns, ...columns }) };
}

/**
 * The reader options of the input settings (the one place that maps them).
 *
 * @example
 *   for await (const b of readBatches(inputs, { ...readOptions(settings), startRow: 5000 })) use(b);
 */
export function readOptions(s: SourceSettings): ReadOptions {
  return { batchRows: s.batchRows, columns: s.columns, numClasses: s.numClasses, retries: s.retries, concurrency: s.concurrency, timeoutMs: s.timeoutMs };
}

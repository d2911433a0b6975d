import type { ParseArgsConfig } from 'node:util';
import { intOption } from './options.js';
import type { ReadOptions } from '../io/read.js';
import { DEFAULT_MAX_IMAGE_PIXELS } from '../stages/decode.js';
import { DEFAULT_COLUMNS, resolveColumns, type Columns, type ColumnsOption } from '../io/columns.js';

/** The options every command that reads inputs takes, as `parseArgs` config. */
export const SOURCE_OPTIONS = {
  'batch-rows': { type: 'string' },
  'id-col': { type: 'string' },
  'label-col': { type: 'string' },
  'image-col': { type: 'string' },
  'image-size': { type: 'string' },
  'num-classes': { type: 'string' },
  retries: { type: 'string' },
  concurrency: { type: 'string' },
  timeout: { type: 'string' },
  'max-image-pixels': { type: 'string' },
  's3-endpoint': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

export const SOURCE_HELP = `Input options (inputs: Parquet files, directories, globs, http(s) URLs, s3://bucket/key,
s3://bucket/prefix/ (its *.parquet objects), or - for a list on stdin):
  --batch-rows N           rows per Arrow batch (default 1024)
  --id-col NAME            id column (default id; absent: the global row index)
  --label-col NAME         label column (default label)
  --image-col NAME         image column, binary or {bytes, path} struct (default image)
  --image-size N           decode images to N x N RGB (default 32)
  --num-classes K          number of classes (default: 1 + the largest label seen)
  --retries N              retries per HTTP request (default 5)
  --concurrency N          remote shards prefetched at once (default 2)
  --timeout SECONDS        per HTTP request (default 30)
  --max-image-pixels N     images larger than N pixels (width x height, from the header) are not
                           decoded; their rows are rejected with the reason (default 50000000)
  --s3-endpoint URL        an S3-compatible store for s3:// URIs (path-style requests); credentials from
                           the AWS chain (environment, AWS_PROFILE, ...), region from AWS_REGION (default us-east-1)`;

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

/** Reads and validates the input options. */
export function sourceSettings(v: Record<string, unknown>): SourceSettings {
  const s = (k: string) => v[k] as string | undefined;
  return {
    batchRows: intOption(s('batch-rows'), '--batch-rows', { min: 1, fallback: 1024 }),
    columns: { id: s('id-col') ?? 'id', label: s('label-col') ?? 'label', image: s('image-col') ?? 'image' },
    imageSize: intOption(s('image-size'), '--image-size', { min: 8, max: 1024, fallback: 32 }),
    numClasses: s('num-classes') === undefined ? undefined : intOption(s('num-classes'), '--num-classes', { min: 1 }),
    retries: intOption(s('retries'), '--retries', { min: 0, max: 100, fallback: 5 }),
    concurrency: intOption(s('concurrency'), '--concurrency', { min: 1, max: 64, fallback: 2 }),
    timeoutMs: 1000 * intOption(s('timeout'), '--timeout', { min: 1, fallback: 30 }),
    maxImagePixels: intOption(s('max-image-pixels'), '--max-image-pixels', { min: 1, fallback: DEFAULT_MAX_IMAGE_PIXELS }),
  };
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

import type { ParseArgsConfig } from 'node:util';
import { intOption } from './options.js';
import { DEFAULT_MAX_IMAGE_PIXELS } from '../stages/decode.js';
import type { SourceSettings } from '../io/source-settings.js';

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
} as const satisfies ParseArgsConfig['options'];

export const SOURCE_HELP = `Input options (inputs: Parquet files, directories, globs, http(s) URLs, or - for a list on stdin):
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
                           decoded; their rows are rejected with the reason (default 50000000)`;

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

import { DEFAULT_MAX_IMAGE_PIXELS } from '../stages/decode.js';
import { SOURCE_DEFAULTS, type SourceSettings } from '../io/source-settings.js';
import { intOpt, stringOpt, type OptionGroup, type Values } from './option.js';

const D = SOURCE_DEFAULTS;
const batchRows = intOpt('batch-rows', 'N', 'rows per Arrow batch', { min: 1, default: D.batchRows });
const idCol = stringOpt('id-col', 'NAME', 'id column (default {default}; absent: the global row index)', { default: D.columns.id });
const labelCol = stringOpt('label-col', 'NAME', 'label column', { default: D.columns.label });
const imageCol = stringOpt('image-col', 'NAME', 'image column, binary or {bytes, path} struct', { default: D.columns.image });
const imageSize = intOpt('image-size', 'N', 'decode images to N x N RGB', { min: 8, max: 1024, default: D.imageSize });
const numClasses = intOpt('num-classes', 'K', 'number of classes (default: 1 + the largest label seen)', { min: 1 });
const retries = intOpt('retries', 'N', 'retries per HTTP request', { min: 0, max: 100, default: D.retries });
const concurrency = intOpt('concurrency', 'N', 'remote shards prefetched at once', { min: 1, max: 64, default: D.concurrency });
const timeout = intOpt('timeout', 'SECONDS', 'per HTTP request', { min: 1, default: D.timeoutMs / 1000 });
const maxImagePixels = intOpt(
  'max-image-pixels',
  'N',
  'images larger than N pixels (width x height, from the header) are not\ndecoded; their rows are rejected with the reason',
  { min: 1, default: DEFAULT_MAX_IMAGE_PIXELS },
);
/** Not a source setting: set once per process for every s3:// request (src/cli.ts reads it). */
export const s3EndpointOpt = stringOpt(
  's3-endpoint',
  'URL',
  'an S3-compatible store for s3:// URIs (path-style requests); credentials from\nthe AWS chain (environment, AWS_PROFILE, ...), region from AWS_REGION (default us-east-1)',
);

/**
 * The options every command that reads inputs takes, read into `SourceSettings`.
 *
 * @example
 *   const source = SOURCE_OPTIONS.read(values);   // { batchRows: 1024, imageSize: 32, ... }
 */
export const SOURCE_OPTIONS: OptionGroup<SourceSettings> = {
  heading: 'Input options (inputs: Parquet files, directories, globs, http(s) URLs, s3://bucket/key,\ns3://bucket/prefix/ (its *.parquet objects), or - for a list on stdin):',
  options: [batchRows, idCol, labelCol, imageCol, imageSize, numClasses, retries, concurrency, timeout, maxImagePixels, s3EndpointOpt],
  read: (v) => ({
    batchRows: batchRows.read(v),
    columns: { id: idCol.read(v), label: labelCol.read(v), image: imageCol.read(v) },
    imageSize: imageSize.read(v),
    numClasses: numClasses.read(v),
    retries: retries.read(v),
    concurrency: concurrency.read(v),
    timeoutMs: 1000 * timeout.read(v),
    maxImagePixels: maxImagePixels.read(v),
  }),
};

/** Reads and validates the input options. */
export function sourceSettings(v: Values): SourceSettings {
  return SOURCE_OPTIONS.read(v);
}


import { UsageError } from '../errors.js';

/** A parsed `s3://bucket/key` URI (`key` may be empty or end in `/`: a prefix). */
export interface S3Location {
  bucket: string;
  key: string;
}

/** True for `s3://` inputs and outputs. */
export function isS3Uri(spec: string): boolean {
  return /^s3:\/\//i.test(spec);
}

/**
 * Splits `s3://bucket/key` into bucket and key (the key as written: no decoding).
 *
 * @example
 *   parseS3Uri('s3://lake/cifar/train-0.parquet'); // { bucket: 'lake', key: 'cifar/train-0.parquet' }
 */
export function parseS3Uri(uri: string): S3Location {
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/i.exec(uri);
  if (!m || !m[1]) throw new UsageError(`Expected an s3://bucket/key URI, got \`${uri}\``);
  return { bucket: m[1], key: m[2] ?? '' };
}

/**
 * The URI of `key` in `bucket`.
 *
 * @example
 *   s3Uri('lake', 'out/clean/part-00000.parquet'); // 's3://lake/out/clean/part-00000.parquet'
 */
export function s3Uri(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

import { s3Client, s3Sdk } from './s3-client.js';
import { s3Request } from './s3-request.js';
import type { S3ReadOptions } from './s3-stat.js';
import { parseS3Uri, s3Uri } from './s3-uri.js';

/** One listed object: its URI, key and size. */
export interface S3Listed {
  uri: string;
  key: string;
  size: number;
}

/**
 * Every object under the prefix of `uri` (all pages), sorted by key.
 *
 * @example
 *   for (const o of await listS3('s3://lake/out/clean/')) console.log(o.key, o.size);
 */
export async function listS3(uri: string, options: S3ReadOptions = { retries: 5, retryDelayMs: 200, timeoutMs: 30_000 }): Promise<S3Listed[]> {
  const { bucket, key: prefix } = parseS3Uri(uri);
  const { ListObjectsV2Command } = await s3Sdk();
  const out: S3Listed[] = [];
  let token: string | undefined;
  do {
    const page = await s3Request('LIST', uri, options, async () =>
      (await s3Client(options.timeoutMs)).send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }), { abortSignal: options.signal }));
    for (const o of page.Contents ?? []) if (o.Key !== undefined) out.push({ uri: s3Uri(bucket, o.Key), key: o.Key, size: o.Size ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * The `*.parquet` objects under an `s3://bucket/prefix/` (at any depth), sorted by key, as a
 * directory input gives its files.
 *
 * @example
 *   const inputs = await listParquetS3('s3://lake/cifar/'); // ['s3://lake/cifar/train-0.parquet', ...]
 */
export async function listParquetS3(uri: string, options?: S3ReadOptions): Promise<string[]> {
  return (await listS3(uri, options)).filter((o) => o.key.endsWith('.parquet')).map((o) => o.uri);
}

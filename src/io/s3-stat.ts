import { RetryableError, type RetryPolicy } from './retry.js';
import { s3Client, s3Sdk } from './s3-client.js';
import { s3Request } from './s3-request.js';
import { parseS3Uri } from './s3-uri.js';

/** Options of the S3 reads: gssd's retries and the idle timeout of a request. */
export interface S3ReadOptions extends RetryPolicy {
  timeoutMs: number;
}

/** What identifies the content of one object: its length, ETag and Last-Modified. */
export interface S3ObjectInfo {
  length: number;
  etag: string | null;
  lastModified: string | null;
}

/**
 * Length, ETag and Last-Modified of an object, from a one-byte ranged GET (which, unlike a
 * HEAD, tells a missing bucket from a missing key).
 *
 * @example
 *   const { length, etag } = await s3Stat('s3://lake/a.parquet', { retries: 5, retryDelayMs: 200, timeoutMs: 30_000 });
 */
export async function s3Stat(uri: string, options: S3ReadOptions): Promise<S3ObjectInfo> {
  const { bucket, key } = parseS3Uri(uri);
  const { GetObjectCommand } = await s3Sdk();
  return s3Request('GET', uri, options, async () => {
    let res;
    try {
      res = await (await s3Client(options.timeoutMs)).send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: 'bytes=0-0' }), { abortSignal: options.signal });
    } catch (err) {
      // an empty object has no byte 0
      if ((err as { name?: string }).name === 'InvalidRange') return { length: 0, etag: null, lastModified: null };
      throw err;
    }
    await res.Body?.transformToByteArray();
    const total = /\/(\d+)\s*$/.exec(res.ContentRange ?? '');
    const length = total ? Number(total[1]) : res.ContentRange === undefined && res.ContentLength !== undefined ? res.ContentLength : NaN;
    if (!Number.isFinite(length)) throw new RetryableError(`no object length in the answer (Content-Range ${res.ContentRange ?? 'missing'})`);
    return { length, etag: res.ETag ?? null, lastModified: res.LastModified ? res.LastModified.toUTCString() : null };
  });
}

import type { InputBuffer } from './async-buffer.js';
import { RetryableError } from './retry.js';
import { s3Client, s3Sdk } from './s3-client.js';
import { s3Request } from './s3-request.js';
import { s3Stat, type S3ReadOptions } from './s3-stat.js';
import { parseS3Uri } from './s3-uri.js';

/**
 * Opens an `s3://bucket/key` object for random reads, as `httpBuffer` opens a URL: every
 * slice is one ranged GET, retried on 5xx, throttling, resets and short bodies, and pinned
 * to the ETag the object had when opened (`If-Match`), so an object replaced mid-read is a
 * one-line error, not a mix of two files.
 *
 * @example
 *   const buf = await s3Buffer('s3://lake/cifar/train-0.parquet', { retries: 5, retryDelayMs: 200, timeoutMs: 30_000 });
 *   try { const footer = await buf.slice(buf.byteLength - 8); } finally { await buf.close(); }
 */
export async function s3Buffer(uri: string, options: S3ReadOptions): Promise<InputBuffer> {
  const { bucket, key } = parseS3Uri(uri);
  const { length: byteLength, etag } = await s3Stat(uri, options);
  const { GetObjectCommand } = await s3Sdk();
  return {
    name: uri,
    byteLength,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const stop = Math.min(end ?? byteLength, byteLength);
      if (stop <= start) return new ArrayBuffer(0);
      return s3Request('GET', uri, options, async () => {
        const command = new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${stop - 1}`, ...(etag ? { IfMatch: etag } : {}) });
        const res = await (await s3Client(options.timeoutMs)).send(command, { abortSignal: options.signal });
        const body = await res.Body!.transformToByteArray();
        if (body.length !== stop - start) {
          throw new RetryableError(`truncated body: ${body.length} of ${stop - start} bytes (range ${start}-${stop - 1})`);
        }
        return body.buffer.byteLength === body.length ? (body.buffer as ArrayBuffer) : body.slice().buffer;
      });
    },
    async close() {},
  };
}

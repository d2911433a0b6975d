import { open } from 'node:fs/promises';
import type { CompletedPart } from '@aws-sdk/client-s3';
import { crashPoint } from '../fault.js';
import { s3Client, s3Sdk } from './s3-client.js';
import { s3Request } from './s3-request.js';
import type { S3ReadOptions } from './s3-stat.js';
import { parseS3Uri } from './s3-uri.js';

/** Bytes per uploaded piece of a multipart upload (S3 takes 5 MiB to 5 GiB; the last may be smaller). */
export const UPLOAD_PIECE_BYTES = 8 << 20;

/**
 * Uploads a local file to `uri` so that the object appears only complete: a multipart upload
 * whose pieces are invisible until `CompleteMultipartUpload`, the commit point. A process
 * killed before it leaves no object under `uri` (only an incomplete upload, which a bucket
 * lifecycle rule `AbortIncompleteMultipartUpload` removes); a failure aborts the upload.
 * Memory: one piece. GSSD_CRASH_AT=s3-publish:N kills the process just before the N-th commit.
 *
 * @example
 *   await uploadFileAtomic('run/clean/part-00000.parquet', 's3://lake/out/clean/part-00000.parquet', policy);
 */
export async function uploadFileAtomic(path: string, uri: string, options: S3ReadOptions): Promise<void> {
  const { bucket: Bucket, key: Key } = parseS3Uri(uri);
  const client = await s3Client(options.timeoutMs);
  const { AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, UploadPartCommand } = await s3Sdk();
  const send = <T>(what: string, run: () => Promise<T>) => s3Request(what, uri, options, run);
  const { UploadId } = await send('PUT', () => client.send(new CreateMultipartUploadCommand({ Bucket, Key }), { abortSignal: options.signal }));
  const file = await open(path, 'r');
  try {
    const parts: CompletedPart[] = [];
    const piece = Buffer.alloc(UPLOAD_PIECE_BYTES);
    for (let PartNumber = 1; ; PartNumber++) {
      const { bytesRead } = await file.read(piece, 0, piece.length, null);
      if (bytesRead === 0 && PartNumber > 1) break;
      const Body = piece.subarray(0, bytesRead);
      const { ETag } = await send('PUT', () => client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body }), { abortSignal: options.signal }));
      parts.push({ PartNumber, ETag });
      if (bytesRead < piece.length) break;
    }
    crashPoint('s3-publish');
    await send('PUT', () => client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }), { abortSignal: options.signal }));
  } catch (err) {
    await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => {});
    throw err;
  } finally {
    await file.close();
  }
}

/**
 * Writes a small object in one PUT, which S3 makes visible only complete (reports, manifests).
 *
 * @example
 *   await putObject('s3://lake/out/report.json', JSON.stringify(report), policy);
 */
export async function putObject(uri: string, body: string | Uint8Array, options: S3ReadOptions, contentType?: string): Promise<void> {
  const { bucket: Bucket, key: Key } = parseS3Uri(uri);
  const { PutObjectCommand } = await s3Sdk();
  await s3Request('PUT', uri, options, async () =>
    (await s3Client(options.timeoutMs)).send(new PutObjectCommand({ Bucket, Key, Body: body, ...(contentType ? { ContentType: contentType } : {}) }), { abortSignal: options.signal }));
}

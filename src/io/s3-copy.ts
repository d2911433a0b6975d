import { s3Client, s3Sdk } from './s3-client.js';
import { s3Request } from './s3-request.js';
import type { S3ReadOptions } from './s3-stat.js';
import { parseS3Uri } from './s3-uri.js';

/**
 * Copies an object inside the store (a server-side CopyObject, one request, up to 5 GB): the
 * target appears only complete, as an upload's does, so a distributed run's route parts become
 * the output's parts under their final names without passing through the coordinator.
 *
 * @example
 *   await copyS3('s3://lake/out/_work/r1/work/jobs/route-00000/clean/part-00000.parquet', 's3://lake/out/clean/part-00000.parquet', policy);
 */
export async function copyS3(from: string, to: string, options: S3ReadOptions): Promise<void> {
  const source = parseS3Uri(from);
  const { bucket: Bucket, key: Key } = parseS3Uri(to);
  const { CopyObjectCommand } = await s3Sdk();
  // the copy source is "bucket/key" with the key URL-encoded (slashes kept)
  const CopySource = `${source.bucket}/${source.key.split('/').map(encodeURIComponent).join('/')}`;
  await s3Request('COPY', from, options, async () =>
    (await s3Client(options.timeoutMs)).send(new CopyObjectCommand({ Bucket, Key, CopySource }), { abortSignal: options.signal }));
}

import { s3Client, s3Sdk } from './s3-client.js';
import { s3Request } from './s3-request.js';
import type { S3ReadOptions } from './s3-stat.js';
import { parseS3Uri } from './s3-uri.js';

/**
 * Deletes objects one by one (a missing one is no error), e.g. a previous run's output before `--force`.
 *
 * @example
 *   await deleteS3(['s3://lake/out/report.json'], policy);
 */
export async function deleteS3(uris: string[], options: S3ReadOptions): Promise<void> {
  const { DeleteObjectCommand } = await s3Sdk();
  for (const uri of uris) {
    const { bucket: Bucket, key: Key } = parseS3Uri(uri);
    await s3Request('DELETE', uri, options, async () => (await s3Client(options.timeoutMs)).send(new DeleteObjectCommand({ Bucket, Key }), { abortSignal: options.signal }));
  }
}

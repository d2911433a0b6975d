import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RetryableError } from './retry.js';
import { s3Client, s3Sdk } from './s3-client.js';
import { s3Request } from './s3-request.js';
import type { S3ReadOptions } from './s3-stat.js';
import { parseS3Uri } from './s3-uri.js';

/**
 * Downloads an object to a local file, streaming (constant memory), under a temporary name
 * renamed into place once complete, so `path` never holds part of an object. Returns false,
 * writing nothing, when the object does not exist; a short body is retried.
 *
 * @example
 *   if (!(await downloadS3('s3://lake/out/_work/r1/work/jobs/merge.json', 'stage/merge.json', policy))) console.log('not there yet');
 */
export async function downloadS3(uri: string, path: string, options: S3ReadOptions): Promise<boolean> {
  const { bucket: Bucket, key: Key } = parseS3Uri(uri);
  const { GetObjectCommand } = await s3Sdk();
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.dl-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    return await s3Request('GET', uri, options, async () => {
      let res;
      try {
        res = await (await s3Client(options.timeoutMs)).send(new GetObjectCommand({ Bucket, Key }), { abortSignal: options.signal });
      } catch (err) {
        const e = err as { name?: string };
        if (e.name === 'NoSuchKey') return false;
        throw err;
      }
      await pipeline(res.Body as Readable, createWriteStream(tmp));
      const got = (await stat(tmp)).size;
      if (res.ContentLength !== undefined && got !== res.ContentLength) throw new RetryableError(`truncated body: ${got} of ${res.ContentLength} bytes`);
      await rename(tmp, path);
      return true;
    });
  } finally {
    await rm(tmp, { force: true });
  }
}

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import S3rver from 's3rver';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

/** The credentials the tests sign with (s3rver checks none). */
export const S3_TEST_ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

/**
 * An s3rver (the S3-compatible server from npm) on 127.0.0.1, a random port and a temp
 * directory, plus a client of its own (not gssd's) to put, list and get objects. s3rver does
 * not check signatures or `If-None-Match`, and is not AWS: what passes here is tested
 * against it only.
 *
 * @example
 *   const s3 = await TestS3.start(['lake']);
 *   await s3.putDir('data/', 'lake', 'shards/');
 *   // gssd ... --s3-endpoint s3.endpoint
 *   await s3.close();
 */
export class TestS3 {
  private constructor(
    private readonly server: S3rver,
    private readonly dir: string,
    readonly endpoint: string,
    readonly client: S3Client,
  ) {}

  static async start(buckets: string[]): Promise<TestS3> {
    Object.assign(process.env, S3_TEST_ENV);
    const dir = await mkdtemp(join(tmpdir(), 'gssd-s3rver-'));
    const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir });
    const { port } = await server.run();
    const endpoint = `http://127.0.0.1:${port}`;
    const client = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    for (const Bucket of buckets) await client.send(new CreateBucketCommand({ Bucket }));
    return new TestS3(server, dir, endpoint, client);
  }

  /** Uploads every file below `local` to `bucket` under `prefix` (relative paths as keys). */
  async putDir(local: string, bucket: string, prefix: string): Promise<string[]> {
    const keys: string[] = [];
    for (const entry of await readdir(local, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const parent = (entry as { parentPath?: string }).parentPath ?? (entry as { path?: string }).path ?? local;
      const key = prefix + relative(local, join(parent, entry.name));
      await this.put(bucket, key, await readFile(join(parent, entry.name)));
      keys.push(key);
    }
    return keys.sort();
  }

  async put(Bucket: string, Key: string, Body: Uint8Array | string): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket, Key, Body }));
  }

  async get(Bucket: string, Key: string): Promise<Buffer> {
    const res = await this.client.send(new GetObjectCommand({ Bucket, Key }));
    return Buffer.from(await res.Body!.transformToByteArray());
  }

  async delete(Bucket: string, Key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket, Key }));
  }

  /** Keys under `prefix` with their sizes, sorted. */
  async list(Bucket: string, Prefix = ''): Promise<{ key: string; size: number }[]> {
    const out: { key: string; size: number }[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket, Prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) out.push({ key: o.Key!, size: o.Size ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  async close(): Promise<void> {
    this.client.destroy();
    await this.server.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

import type { S3Client } from '@aws-sdk/client-s3';

/** The AWS SDK's S3 module, loaded on first use (it adds ~0.3 s of CPU to a process start). */
export type S3Sdk = typeof import('@aws-sdk/client-s3');
let sdk: Promise<S3Sdk> | undefined;

/**
 * The S3 module of the AWS SDK, imported once, when the first s3:// request needs it.
 *
 * @example
 *   const { GetObjectCommand } = await s3Sdk();
 */
export function s3Sdk(): Promise<S3Sdk> {
  return (sdk ??= import('@aws-sdk/client-s3'));
}

/**
 * The S3 clients of this process: one per request timeout, all with the same endpoint.
 * Credentials come from the SDK's standard chain (environment, shared config and credentials
 * files with AWS_PROFILE, SSO, web identity, container and instance metadata); the region
 * from AWS_REGION (or AWS_DEFAULT_REGION), else `us-east-1`. With an endpoint
 * (`setS3Endpoint`, the CLI's `--s3-endpoint`, or the SDK's AWS_ENDPOINT_URL_S3 /
 * AWS_ENDPOINT_URL) requests use path-style addressing (`http://host:port/bucket/key`), as
 * S3-compatible stores expect. Retries are gssd's own (`withRetries`), so the SDK makes one attempt.
 */
const clients = new Map<number, S3Client>();
let endpoint: string | undefined;

export const DEFAULT_S3_REGION = 'us-east-1';

/**
 * Sets the endpoint of an S3-compatible store for every later request of this process.
 *
 * @example
 *   setS3Endpoint('http://127.0.0.1:9000');
 */
export function setS3Endpoint(url: string | undefined): void {
  if (url !== undefined) new URL(url); // throws on a malformed URL before any request
  if (url === endpoint) return;
  endpoint = url;
  for (const c of clients.values()) c.destroy();
  clients.clear();
}

/** The configured endpoint, for messages (undefined: the AWS default). */
export function s3Endpoint(): string | undefined {
  return endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
}

/**
 * The client for requests with idle timeout `timeoutMs`.
 *
 * @example
 *   await (await s3Client(30_000)).send(new GetObjectCommand({ Bucket: 'lake', Key: 'a.parquet', Range: 'bytes=0-0' }));
 */
export async function s3Client(timeoutMs = 30_000): Promise<S3Client> {
  const { S3Client } = await s3Sdk();
  let client = clients.get(timeoutMs);
  if (!client) {
    // gssd runs on Node 20; the SDK's notice about future Node versions is not the user's business here
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const custom = s3Endpoint();
    client = new S3Client({
      region: process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || DEFAULT_S3_REGION,
      ...(endpoint ? { endpoint } : {}),
      forcePathStyle: custom !== undefined,
      maxAttempts: 1,
      requestHandler: { connectionTimeout: timeoutMs, socketTimeout: timeoutMs },
    });
    clients.set(timeoutMs, client);
  }
  return client;
}

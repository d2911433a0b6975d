import { InputError } from '../errors.js';
import { RetryableError, describeError, withRetries, type RetryPolicy } from './retry.js';
import { DEFAULT_S3_REGION, s3Endpoint } from './s3-client.js';
import { parseS3Uri } from './s3-uri.js';

/** Codes of a store that cannot be reached at all. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/** Other network faults a new attempt may fix. */
const TRANSIENT = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'TimeoutError', 'RequestTimeout', 'SlowDown', 'Throttling', 'ThrottlingException', 'InternalError', 'ServiceUnavailable']);

/**
 * Runs one S3 request for `uri` with gssd's retries (5xx, throttling, resets, an unreachable
 * endpoint), and turns what the store says into one line naming the URI: no such object,
 * no such bucket, access denied, no credentials, or the endpoint unreachable (after the
 * retries). `what` is the operation (`GET`, `LIST`, `PUT`, ...).
 *
 * @example
 *   const res = await s3Request('GET', 's3://lake/a.parquet', policy, () => client.send(cmd, { abortSignal }));
 */
export function s3Request<T>(what: string, uri: string, policy: RetryPolicy, attempt: () => Promise<T>): Promise<T> {
  return withRetries(`${what} ${uri}`, policy, async () => {
    try {
      return await attempt();
    } catch (err) {
      if (policy.signal?.aborted) throw err;
      throw s3Failure(uri, err);
    }
  });
}

/**
 * The error to throw for a failed S3 request: a one-line InputError for what the user must
 * fix, a RetryableError for what another attempt may fix.
 *
 * @example
 *   catch (err) { throw s3Failure('s3://lake/a.parquet', err); }
 */
export function s3Failure(uri: string, err: unknown): Error {
  if (err instanceof InputError || err instanceof RetryableError) return err;
  const e = err as { name?: string; Code?: string; code?: string; $metadata?: { httpStatusCode?: number }; message?: string; cause?: { code?: string } };
  const name = e.Code ?? e.name ?? '';
  const status = e.$metadata?.httpStatusCode;
  const code = e.code ?? e.cause?.code ?? '';
  const { bucket } = safeParse(uri);
  if (name === 'NoSuchBucket') return new InputError(`${uri}: no such bucket "${bucket}"`, { cause: err });
  if (name === 'NoSuchKey' || (name === 'NotFound' && status === 404)) return new InputError(`${uri}: no such object`, { cause: err });
  if (name === 'CredentialsProviderError') {
    return new InputError(`${uri}: no AWS credentials found (environment, AWS_PROFILE and ~/.aws files, SSO, container or instance role)`, { cause: err });
  }
  if (name === 'AccessDenied' || name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch' || status === 403) {
    return new InputError(`${uri}: access denied (${name || 'HTTP 403'}); check the credentials and the bucket policy`, { cause: err });
  }
  if (name === 'PermanentRedirect' || status === 301) {
    return new InputError(`${uri}: the bucket "${bucket}" is in another region than ${process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || DEFAULT_S3_REGION}; set AWS_REGION`, { cause: err });
  }
  if (name === 'PreconditionFailed' || status === 412) return new InputError(`${uri}: the object changed while it was read`, { cause: err });
  if (UNREACHABLE.has(code)) {
    const where = s3Endpoint() ? `endpoint ${s3Endpoint()}` : 'S3';
    return new RetryableError(`${where} unreachable (${describeError(e.cause ?? err)})`, undefined, { cause: err });
  }
  if (TRANSIENT.has(code) || TRANSIENT.has(name) || (status !== undefined && (status >= 500 || status === 429))) {
    return new RetryableError(status ? `${name || 'error'} (HTTP ${status})` : describeError(err), undefined, { cause: err });
  }
  if (status !== undefined && status >= 400) return new InputError(`${uri}: ${name || 'error'} (HTTP ${status})${e.message && e.message !== name ? `: ${e.message}` : ''}`, { cause: err });
  return err instanceof Error ? err : new Error(String(err));
}

function safeParse(uri: string): { bucket: string } {
  try {
    return parseS3Uri(uri);
  } catch {
    return { bucket: '' };
  }
}

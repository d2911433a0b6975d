import { connect } from 'node:net';
import type { ConnectionOptions } from 'bullmq';
import { InputError, UsageError } from '../../src/errors.js';

/**
 * BullMQ connection options from a Redis URL (`redis://[user:password@]host[:port][/db]`,
 * `rediss://` for TLS). Commands wait through a Redis restart instead of failing
 * (`maxRetriesPerRequest: null`, as BullMQ workers need).
 *
 * @example
 *   const connection = redisConnection('redis://127.0.0.1:6379/0');
 */
export function redisConnection(url: string): ConnectionOptions & { host: string; port: number } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`Expected \`--redis\` to be a URL like redis://127.0.0.1:6379, got \`${url}\``);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new UsageError(`Expected \`--redis\` to be a redis:// or rediss:// URL, got \`${url}\``);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new UsageError(`--redis ${url}: the database number must be an integer from 0 up`);
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    db,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  };
}

/**
 * Fails with one line when nothing answers at the Redis address (a TCP connect, 5 s at
 * most): BullMQ itself would retry forever in silence.
 *
 * @example
 *   await checkRedisReachable('redis://127.0.0.1:6379');
 */
export async function checkRedisReachable(url: string): Promise<void> {
  const { host, port } = redisConnection(url);
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host, port });
    const fail = (why: string) => {
      socket.destroy();
      reject(new InputError(`cannot reach Redis at ${url} (${why}); start redis-server there or pass the right --redis URL`));
    };
    socket.setTimeout(5000, () => fail('no answer in 5 s'));
    socket.once('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
  });
}

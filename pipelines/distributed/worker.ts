import { readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'bullmq';
import type { Logger } from '../../src/log.js';
import { checkRedisReachable, redisConnection } from './redis.js';
import { QUEUE, type JobData } from './run-spec.js';
import { stagingDir } from './job-files.js';
import type { JobResult } from './run-job.js';

/** Options of `gssd worker`. */
export interface WorkerOptions {
  redis: string;
  /** Jobs at once, each on its own worker thread (default 1). */
  concurrency: number;
  /** A job's lock lasts this long and is renewed at half of it; a worker silent longer is taken for dead and its job runs elsewhere (default 30000). */
  lockMs: number;
  /** The S3-compatible store of runs whose --out is s3:// (default: the AWS SDK's, or AWS_ENDPOINT_URL_S3). */
  s3Endpoint?: string;
}

/**
 * `gssd worker`: takes gssd jobs from the Redis queue and runs them, `concurrency` at a time,
 * each in a worker thread (BullMQ's sandboxed processor), until SIGINT or SIGTERM, when it
 * finishes its running jobs and stops (a second signal stops it at once). Any number of workers on any machines that see the
 * run directory, or reach the store of a run whose work area is in S3 (staged under the OS temp
 * dir, removed when the worker stops).
 *
 * @example
 *   await runWorker({ redis: 'redis://127.0.0.1:6379', concurrency: 2, lockMs: 30_000 }, log);
 */
export async function runWorker(o: WorkerOptions, log: Logger): Promise<void> {
  await checkRedisReachable(o.redis);
  // the job threads read the environment they start with: the endpoint reaches them through it (processor.ts)
  if (o.s3Endpoint !== undefined) process.env.AWS_ENDPOINT_URL_S3 = o.s3Endpoint;
  const processor = fileURLToPath(new URL('./processor.js', import.meta.url));
  const worker = new Worker<JobData, JobResult>(QUEUE, processor, {
    connection: redisConnection(o.redis),
    concurrency: o.concurrency,
    useWorkerThreads: true,
    lockDuration: o.lockMs,
    stalledInterval: Math.max(500, Math.round(o.lockMs / 2)),
    // a job whose worker died goes back to the queue this many times before it fails
    maxStalledCount: 5,
  });
  worker.on('active', (job) => log.info('job started', { id: job.id }));
  worker.on('completed', (job) => log.info('job done', { id: job.id }));
  worker.on('failed', (job, err) => log.warn('job failed', { id: job?.id, attempt: job?.attemptsMade, error: err.message.split('\n')[0] }));
  worker.on('error', (err) => log.warn('worker', { error: err.message.split('\n')[0] }));
  log.info('worker ready', { redis: o.redis, concurrency: o.concurrency, pid: process.pid });
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = () => {
      // a second signal stops at once (closing waits for Redis, which may be gone); the running
      // job is then taken over by another worker when its lock expires
      if (stopping) process.exit(130);
      stopping = true;
      log.info('worker stopping', { pid: process.pid });
      worker.close().then(resolve, resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await removeStaging();
}

/** The staged copies of s3:// work areas this process made (`stagingDir`): gone when it stops. */
async function removeStaging(): Promise<void> {
  const root = dirname(stagingDir('x'));
  const mine = (await readdir(root).catch(() => [] as string[])).filter((n) => n.endsWith(`-${process.pid}`));
  for (const n of mine) await rm(join(root, n), { recursive: true, force: true });
}

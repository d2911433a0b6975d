import { UsageError } from '../errors.js';
import { intOpt, stringOpt } from './option.js';
import { defineCommand } from './command.js';
import { s3EndpointOpt } from './source-options.js';

const redis = stringOpt('redis', 'URL', 'redis://[user:password@]host[:port][/db] (rediss:// for TLS) (required)', { required: true });
const concurrency = intOpt('concurrency', 'N', 'jobs at once, one thread each', { min: 1, max: 256, default: 1 });
const lockMs = intOpt('lock-ms', 'MS', "a job's lock, renewed at half of it; a worker silent for longer is taken\nfor dead and its job runs elsewhere", { min: 1000, default: 30_000 });

export const workerCommand = defineCommand({
  name: 'worker',
  summary: 'Run the jobs of distributed cleanse runs (gssd cleanse --engine bullmq) from a Redis queue',
  usage: 'Usage: gssd worker --redis URL [--concurrency N] [--lock-ms MS] [--s3-endpoint URL]',
  about: `Takes gssd jobs (embed a shard, merge, fit a class, score a shard, route a shard) from the
BullMQ queue in Redis and runs them, each on a worker thread, until SIGINT or SIGTERM (it finishes its running jobs
first; a second signal stops it at once). Start any
number, on any machines that see the run directories and inputs at the same paths, or, for a run
whose --out is s3://, that reach the store (--s3-endpoint, AWS credentials). A worker that
dies mid-job loses nothing: its job goes back to the queue when its lock expires.`,
  options: [redis, concurrency, lockMs, s3EndpointOpt],
  async run(values, positionals, log) {
    if (positionals.length > 0) throw new UsageError(`gssd worker takes no inputs (got ${positionals[0]}); the coordinator (gssd cleanse --engine bullmq) submits them`);
    const { runWorker } = await import('../../pipelines/distributed/worker.js');
    await runWorker({ redis: redis.read(values), concurrency: concurrency.read(values), lockMs: lockMs.read(values), s3Endpoint: s3EndpointOpt.read(values) }, log);
  },
});

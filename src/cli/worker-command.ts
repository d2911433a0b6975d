import { UsageError } from '../errors.js';
import { intOption, stringOption } from './options.js';
import type { Command } from './command.js';

export const workerCommand: Command = {
  name: 'worker',
  summary: 'Run the jobs of distributed cleanse runs (gssd cleanse --engine bullmq) from a Redis queue',
  usage: 'Usage: gssd worker --redis URL [--concurrency N] [--lock-ms MS]',
  help: `Takes gssd jobs (embed a shard, merge, fit a class, score a shard, route a shard) from the
BullMQ queue in Redis and runs them, each on a worker thread, until SIGINT or SIGTERM (it finishes its running jobs
first; a second signal stops it at once). Start any
number, on any machines that see the run directories and inputs at the same paths. A worker that
dies mid-job loses nothing: its job goes back to the queue when its lock expires.

  --redis URL              redis://[user:password@]host[:port][/db] (rediss:// for TLS) (required)
  --concurrency N          jobs at once, one thread each (default 1)
  --lock-ms MS             a job's lock, renewed at half of it; a worker silent for longer is taken
                           for dead and its job runs elsewhere (default 30000)`,
  options: { redis: { type: 'string' }, concurrency: { type: 'string' }, 'lock-ms': { type: 'string' } },
  async run(values, positionals, log) {
    if (positionals.length > 0) throw new UsageError(`gssd worker takes no inputs (got ${positionals[0]}); the coordinator (gssd cleanse --engine bullmq) submits them`);
    const { runWorker } = await import('../../pipelines/distributed/worker.js');
    await runWorker(
      {
        redis: stringOption(values.redis as string | undefined, '--redis'),
        concurrency: intOption(values.concurrency as string | undefined, '--concurrency', { min: 1, max: 256, fallback: 1 }),
        lockMs: intOption(values['lock-ms'] as string | undefined, '--lock-ms', { min: 1000, fallback: 30_000 }),
      },
      log,
    );
  },
};

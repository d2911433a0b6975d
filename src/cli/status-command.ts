import { UsageError } from '../errors.js';
import { stringOption } from './options.js';
import type { Command } from './command.js';

export const statusCommand: Command = {
  name: 'status',
  summary: 'Jobs of distributed cleanse runs in Redis: per pass waiting / active / failed, last error',
  usage: 'Usage: gssd status --redis URL [RUN] [--retry-failed] [--json]',
  help: `Lists the gssd runs in the BullMQ queue (or one: RUN is a run id or a run directory), per pass
the jobs waiting, active, completed and failed, and the last error of a failed job.

  --redis URL              the Redis the workers use (required)
  --retry-failed           put the failed jobs of the run(s) back in the queue
  --json                   print JSON`,
  options: { redis: { type: 'string' }, 'retry-failed': { type: 'boolean' }, json: { type: 'boolean' } },
  async run(values, positionals) {
    if (positionals.length > 1) throw new UsageError(`gssd status takes at most one run id or directory, got ${positionals.length}`);
    const { runStatus, formatStatus } = await import('../../pipelines/distributed/status.js');
    const runs = await runStatus(stringOption(values.redis as string | undefined, '--redis'), positionals[0], { retry: Boolean(values['retry-failed']) });
    process.stdout.write(values.json ? JSON.stringify(runs, null, 1) + '\n' : formatStatus(runs));
  },
};

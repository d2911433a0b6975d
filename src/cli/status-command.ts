import { UsageError } from '../errors.js';
import { stringOpt, switchOpt } from './option.js';
import { defineCommand } from './command.js';

const redis = stringOpt('redis', 'URL', 'the Redis the workers use (required)', { required: true });
const retryFailed = switchOpt('retry-failed', 'put the failed jobs of the run(s) back in the queue');
const json = switchOpt('json', 'print JSON');

export const statusCommand = defineCommand({
  name: 'status',
  summary: 'Jobs of distributed cleanse runs in Redis: per pass waiting / active / failed, last error',
  usage: 'Usage: gssd status --redis URL [RUN] [--retry-failed] [--json]',
  about: `Lists the gssd runs in the BullMQ queue (or one: RUN is a run id, a run directory or an
s3:// --out), per pass the jobs waiting, active, completed and failed, and the last error of a
failed job.`,
  options: [redis, retryFailed, json],
  async run(values, positionals) {
    if (positionals.length > 1) throw new UsageError(`gssd status takes at most one run id or directory, got ${positionals.length}`);
    const { runStatus, formatStatus } = await import('../../pipelines/distributed/status.js');
    const runs = await runStatus(redis.read(values), positionals[0], { retry: retryFailed.read(values) });
    process.stdout.write(json.read(values) ? JSON.stringify(runs, null, 1) + '\n' : formatStatus(runs));
  },
});

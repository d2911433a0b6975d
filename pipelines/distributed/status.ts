import { Queue, type Job, type JobType } from 'bullmq';
import { existsSync } from 'node:fs';
import { checkRedisReachable, redisConnection } from './redis.js';
import { QUEUE, readSpec, specPath, workArea, type JobData } from './run-spec.js';
import { isS3Uri } from '../../src/io/s3-uri.js';
import type { JobResult } from './run-job.js';

const STATES: JobType[] = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'];
const PASS_ORDER = ['embed', 'merge', 'fit', 'fitted', 'score', 'scored', 'route', 'routed'];

/** Jobs of one pass of one run, by state, and the last error of a failed one. */
export interface PassStatus {
  pass: string;
  counts: Partial<Record<JobType, number>>;
  lastError: { job: string; attempts: number; error: string } | null;
}

export interface RunStatus {
  runId: string;
  run: string | null;
  passes: PassStatus[];
}

/**
 * `gssd status`: the gssd runs in the Redis queue (or one, by run id, run directory or s3:// --out), per
 * pass the jobs waiting, active, completed and failed, and the last error of a failed job;
 * with `retry`, failed jobs of the run go back to the queue.
 *
 * @example
 *   const runs = await runStatus('redis://127.0.0.1:6379', 'out');
 */
export async function runStatus(redis: string, run?: string, { retry = false } = {}): Promise<RunStatus[]> {
  await checkRedisReachable(redis);
  // an s3:// output: the runs whose work area is under it
  const area = run !== undefined && isS3Uri(run) ? workArea(run, '').slice(0, -1) : undefined;
  const runId = run === undefined || area ? undefined : existsSync(specPath(run)) ? (await readSpec(run)).runId : run;
  const queue = new Queue<JobData, JobResult>(QUEUE, { connection: redisConnection(redis) });
  try {
    const runs = new Map<string, RunStatus>();
    const lastAt = new Map<PassStatus, number>();
    for (const state of STATES) {
      const jobs: Job<JobData, JobResult>[] = await queue.getJobs([state], 0, -1);
      for (const job of jobs) {
        if (!job?.id) continue;
        const [id, pass] = job.id.split('.');
        if (runId !== undefined && id !== runId) continue;
        if (area !== undefined && !String(job.data?.run ?? '').startsWith(area)) continue;
        const r = runs.get(id) ?? { runId: id, run: job.data?.run ?? null, passes: [] };
        runs.set(id, r);
        let p = r.passes.find((x) => x.pass === pass);
        if (!p) r.passes.push((p = { pass, counts: {}, lastError: null }));
        p.counts[state] = (p.counts[state] ?? 0) + 1;
        if (state === 'failed') {
          const at = job.finishedOn ?? 0;
          if (!p.lastError || at >= (lastAt.get(p) ?? 0)) {
            p.lastError = { job: job.id, attempts: job.attemptsMade, error: (job.failedReason ?? '').split('\n')[0] };
            lastAt.set(p, at);
          }
          if (retry) await job.retry('failed');
        }
      }
    }
    for (const r of runs.values()) r.passes.sort((a, b) => PASS_ORDER.indexOf(a.pass) - PASS_ORDER.indexOf(b.pass));
    return [...runs.values()];
  } finally {
    await queue.close();
  }
}

/** The status as text, one line per pass. */
export function formatStatus(runs: RunStatus[]): string {
  if (runs.length === 0) return 'no gssd jobs in the queue\n';
  const lines: string[] = [];
  for (const r of runs) {
    lines.push(`run ${r.runId}${r.run ? ` (${r.run})` : ''}`);
    for (const p of r.passes) {
      const counts = STATES.filter((s) => p.counts[s]).map((s) => `${p.counts[s]} ${s}`).join(', ');
      lines.push(`  ${p.pass.padEnd(7)} ${counts}`);
      if (p.lastError) lines.push(`          last error: ${p.lastError.job} after ${p.lastError.attempts} attempt(s): ${p.lastError.error}`);
    }
  }
  return lines.join('\n') + '\n';
}

/**
 * The BullMQ sandboxed processor of `gssd worker`: BullMQ loads this module in a worker
 * thread, so that embedding and flow training never block the worker's main thread, which
 * keeps renewing the job locks (a long embed is not taken for a dead worker).
 */
import type { SandboxedJob } from 'bullmq';
import { runJob, type JobResult } from './run-job.js';
import type { JobData, JobKind } from './run-spec.js';

export default async function process(job: SandboxedJob<JobData, JobResult>): Promise<JobResult> {
  return runJob(job.name as JobKind, job.data);
}

/**
 * The BullMQ sandboxed processor of `gssd worker`: BullMQ loads this module in a worker
 * thread, so that embedding and flow training never block the worker's main thread, which
 * keeps renewing the job locks (a long embed is not taken for a dead worker).
 */
import type { SandboxedJob } from 'bullmq';
import { setS3Endpoint } from '../../src/io/s3-client.js';
import { runJob, type JobResult } from './run-job.js';
import type { JobData, JobKind } from './run-spec.js';

// `gssd worker --s3-endpoint` (worker.ts) hands the endpoint over in the environment
const endpoint = globalThis.process.env.AWS_ENDPOINT_URL_S3;
if (endpoint) setS3Endpoint(endpoint);

export default async function process(job: SandboxedJob<JobData, JobResult>): Promise<JobResult> {
  return runJob(job.name as JobKind, job.data);
}

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/io/atomic-file.js';
import { workFiles } from '../../src/io/work-files.js';
import type { CleanseOptions } from '../cleanse/options.js';

/**
 * What every worker needs to know about a distributed cleanse run, written once by the
 * coordinator to DIR/checkpoint/distributed.json before any job is submitted: the run id
 * (the prefix of every job id, new for every run so that a `--force` re-run never meets an
 * old run's completed jobs), and the cleanse options.
 */
export interface RunSpec {
  runId: string;
  options: CleanseOptions;
  /**
   * With an s3:// --out: the output URI, and the encoder's path in the run's work area
   * (`workArea`), where the coordinator uploads it; workers stage it from there. Absent for a
   * shared run directory.
   */
  s3?: { out: string; encoder: string };
}

/** The work area of a run whose --out is `s3://bucket/prefix`: `s3://bucket/prefix/_work/<run id>/`. */
export function workArea(out: string, runId: string): string {
  return `${out.endsWith('/') ? out : `${out}/`}${WORK_AREA}/${runId}/`;
}

/** The folder of an s3:// output that holds the work areas of its runs (deleted at the end unless --keep-work). */
export const WORK_AREA = '_work';

/** The queue every gssd job goes through. */
export const QUEUE = 'gssd';

/** The job kinds, in pass order; `merged`, `fitted`, `scored`, `routed` are the fan-in parents. */
export type JobKind = 'embed' | 'merge' | 'fit' | 'fitted' | 'score' | 'scored' | 'route' | 'routed';

/** What a job gets: the run directory (shared by all machines) or the s3:// work area, and its shard or class. */
export interface JobData {
  run: string;
  runId: string;
  index?: number;
}

/**
 * The deterministic id of a job: `<run id>.<kind>[.<shard or class>]`.
 *
 * @example
 *   jobId('r5f2c', 'embed', 7)   // 'r5f2c.embed.7'
 */
export function jobId(runId: string, kind: JobKind, index?: number): string {
  return index === undefined ? `${runId}.${kind}` : `${runId}.${kind}.${index}`;
}

export function specPath(run: string): string {
  return join(run, 'checkpoint', 'distributed.json');
}

/** Where the jobs of a run write (under DIR/work, deleted at the end unless --keep-work). */
export function jobsDir(run: string): string {
  return workFiles(run).jobs;
}

/** Base path of a job's files: `DIR/work/jobs/embed-00007` (+ `.f32`, `.json`, ...). */
export function jobBase(run: string, kind: string, index?: number): string {
  return join(jobsDir(run), index === undefined ? kind : `${kind}-${String(index).padStart(5, '0')}`);
}

export async function writeSpec(run: string, spec: RunSpec): Promise<void> {
  await writeFileAtomic(specPath(run), JSON.stringify(spec, null, 1));
}

export async function readSpec(run: string): Promise<RunSpec> {
  return JSON.parse(await readFile(specPath(run), 'utf8')) as RunSpec;
}

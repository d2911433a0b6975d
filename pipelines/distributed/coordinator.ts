import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FlowProducer, Queue, QueueEvents, type JobsOptions } from 'bullmq';
import { InputError, UsageError } from '../../src/errors.js';
import { crashPoint } from '../../src/fault.js';
import { CheckpointStore } from '../../src/io/checkpoint.js';
import { countRows } from '../../src/io/read.js';
import { readOptions } from '../../src/io/source-settings.js';
import { initBackend } from '../../src/models/backend.js';
import { Progress } from '../../src/progress.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { VERSION } from '../../src/version.js';
import { concatFiles } from '../jobs.js';
import { RunContext } from '../cleanse/context.js';
import { detectPass } from '../cleanse/detect-pass.js';
import { fitEpochRows, warnSmallFitSamples } from '../cleanse/fit-pass.js';
import { freshRunDir } from '../../src/io/fresh-run-dir.js';
import { CLEANSE_RUN_ENTRIES } from '../cleanse/run-entries.js';
import { MIN_CLASS_ROWS, trainableClasses, workFiles } from '../../src/io/work-files.js';
import { outputFingerprint, type CleanseOptions } from '../cleanse/options.js';
import { writeReports, type CleanseReport } from '../cleanse/report.js';
import { initialState, PASSES, type CleanseState, type PassName } from '../cleanse/state.js';
import { checkRedisReachable, redisConnection } from './redis.js';
import { mergeManifest, type DetectManifest, type JobResult } from './run-job.js';
import { commitManifest, dirJobFiles, readCommitted, s3JobFiles, type JobFiles } from './job-files.js';
import { collectParts, linkedParts, s3Parts } from './collect-parts.js';
import { cleanseToS3 } from '../cleanse/s3-output.js';
import type { S3ReadOptions } from '../../src/io/s3-stat.js';
import { uploadFileAtomic } from '../../src/io/s3-upload.js';
import { filesUnder } from '../../src/io/files-under.js';
import { isS3Uri } from '../../src/io/s3-uri.js';
import { jobBase, jobId, jobsDir, QUEUE, readSpec, specPath, workArea, writeSpec, type JobData, type JobKind, type RunSpec } from './run-spec.js';

/** Retries of a failed job (an error, not a dead worker: that is BullMQ's stalled-job recovery). */
const JOB_OPTIONS: JobsOptions = { attempts: 3, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: false, removeOnFail: false };

/**
 * `gssd cleanse --engine bullmq`: the coordinator of a cleanse run on `gssd worker`s. It
 * submits the passes as BullMQ flows (children: every shard's or class's job; parent: the
 * fan-in) with job ids `<run id>.<pass>.<shard or class>` — embed every shard -> merge, fit
 * every class, score every shard — runs detection itself, then routes every shard, and
 * collects the parts into DIR/{clean,poisoned,uncertain,rejected} in input order. Progress
 * (jobs and rows done, rows/s, ETA) comes from the queue's job events. The run's state is
 * checkpointed after every pass, so `resume: true` re-attaches to the run's jobs and finishes
 * it; the output rows equal `--engine local`'s with the same options.
 *
 * @example
 *   const report = await cleanseDistributed({ ...options, encoder: 'enc/encoder' }, 'redis://127.0.0.1:6379', log);
 */
export async function cleanseDistributed(given: CleanseOptions, redis: string, log: Logger = silentLogger): Promise<CleanseReport> {
  const startedAt = Date.now();
  // workers on other machines (or in other directories) get absolute paths
  const absolute = (p: string) => (/^[a-z][a-z0-9+.-]*:\/\//i.test(p) ? p : resolve(p));
  const checked: CleanseOptions = { ...given, inputs: given.inputs.map(absolute), encoder: given.encoder && resolve(given.encoder) };
  if (!checked.encoder) throw new UsageError('--engine bullmq needs --encoder: pretraining is a single-machine step (gssd pretrain, then pass its encoder)');
  if (!existsSync(checked.encoder)) throw new UsageError(`--encoder ${checked.encoder}: no such file or directory`);
  if (checked.detector !== 'gssd') throw new UsageError(`--engine bullmq runs the gssd detector; --detector ${checked.detector} runs with --engine local`);
  await checkRedisReachable(redis);
  if (!isS3Uri(checked.out)) {
    if (checked.runDir !== undefined) throw new UsageError('--run-dir is the local run directory of an s3:// --out; with a directory as --out, that directory is the run directory');
    return runDistributed({ ...checked, out: resolve(checked.out) }, redis, log, startedAt);
  }
  // an s3:// --out: as a local run to S3 (prefix checks, reports, manifest.json last), with this
  // process's run directory local and the jobs' files in the store's work area
  const s3Out = checked.out;
  return cleanseToS3(checked, log, (request, l) =>
    runDistributed({ ...(request as CleanseOptions), out: resolve(request.out), onCommit: undefined }, redis, l, startedAt, s3Out));
}

/**
 * The run, its options checked; `options.out` is the coordinator's run directory (shared with
 * the workers, or with `s3Out` its own, the workers' files being in the output's work area).
 */
async function runDistributed(options: CleanseOptions, redis: string, log: Logger, startedAt: number, s3Out?: string): Promise<CleanseReport> {
  const backend = await initBackend(options.backend);
  const { state, spec } = await openRun(options, backend, s3Out);
  const ctx = new RunContext(options, state, log, startedAt);
  const run = options.out;
  const { runId } = spec;
  const policy: S3ReadOptions = { retries: options.source.retries, retryDelayMs: 200, timeoutMs: options.source.timeoutMs };
  const area = spec.s3 ? workArea(spec.s3.out, runId) : run;
  const files = spec.s3 ? s3JobFiles(run, area, policy) : dirJobFiles(run);
  await mkdir(jobsDir(run), { recursive: true });
  // (a run resumed after its end has no more jobs: its work area may be gone already)
  if (spec.s3 && state.pass !== 'done') await shareRun(files, spec, options.encoder!, policy);
  log.info('distributed run', { runId, pass: state.pass, shards: options.inputs.length, redis, ...(spec.s3 ? { workArea: area } : {}) });
  const connection = redisConnection(redis);
  const queue = new Queue<JobData, JobResult>(QUEUE, { connection });
  const flows = new FlowProducer({ connection });
  const events = new QueueEvents(QUEUE, { connection });
  const engine = { queue, flows, events, runId, run: area, log };
  const at = (pass: PassName) => PASSES.indexOf(state.pass) <= PASSES.indexOf(pass);
  const advance = async (next: PassName) => {
    state.pass = next;
    await ctx.commit();
  };
  try {
    await events.waitUntilReady();
    const shards = options.inputs.map((_, k) => k);
    if (at('embed')) {
      await ctx.measure('embed', () => stage(engine, 'embed', 'merge', 'embed', shards, state.totalRows), state.totalRows);
      const m = await mergeManifest(files);
      state.featureDim = m.featureDim;
      state.numClasses = m.numClasses;
      state.embedRuntime = m.embedRuntime;
      state.embed = { rowsDone: m.rows, rejected: m.rejected, stats: m.stats, labelCounts: m.labelCounts };
      checkClasses(state, options);
      if (m.rowsFitted) {
        state.fit.rowsFitted = m.rowsFitted;
        log.info('fit sample', { rowsPerClass: options.fitRowsPerClass, rowsFitted: m.rowsFitted });
        warnSmallFitSamples(log, m.rowsFitted, m.labelCounts, m.numClasses, options.fitRowsPerClass!);
      }
      await advance('fit');
    }
    const trainable = trainableClasses(state.embed.labelCounts, state.numClasses!);
    if (at('fit')) {
      const classes = trainable.flatMap((t, c) => (t ? [c] : []));
      const perClass = state.fit.rowsFitted ?? state.embed.labelCounts;
      const rows = classes.reduce((s, c) => s + perClass[c], 0) * options.flowEpochs;
      await ctx.measure('fit', () => stage(engine, 'fit', 'fitted', 'fit', classes, rows), fitEpochRows(state) * options.flowEpochs);
      state.fit.epochsDone = options.flowEpochs;
      await advance('score');
    }
    if (at('score')) {
      await ctx.measure('score', () => stage(engine, 'score', 'scored', 'score', shards, state.totalRows), state.totalRows);
      const runtimes = new Set<string>();
      for (const k of shards) runtimes.add((await readCommitted<{ runtime: string }>(files, `${jobBase(run, 'score', k)}.json`))!.runtime);
      if (runtimes.size > 1) throw new Error(`the shards were scored with different runtimes (${[...runtimes].join(', ')}); give every worker the same setup`);
      state.scoreRuntime = [...runtimes][0];
      state.score.rowsDone = state.totalRows;
      await advance('detect');
    }
    if (at('detect')) {
      await ctx.measure('detect', async () => {
        const { likelihood } = workFiles(run);
        const tmp = `${likelihood}.tmp-${process.pid}`;
        const scores: string[] = [];
        for (const k of shards) {
          const path = `${jobBase(run, 'score', k)}.f32`;
          if (!(await files.fetch(path))) throw new Error(`${files.uri(path)}: the likelihoods of shard ${k} are missing`);
          scores.push(path);
        }
        await concatFiles(scores, tmp);
        await rename(tmp, likelihood);
        await detectPass(ctx);
        const detect: DetectManifest = { detection: state.detection!, thresholds: state.thresholds! };
        await commitManifest(files, jobBase(run, 'detect') + '.json', detect);
      });
      await advance('route');
    }
    if (at('route')) {
      await ctx.measure('route', async () => {
        await stage(engine, 'route', 'routed', 'route', shards, state.totalRows);
        state.route = await collectParts(files, shards, trainable, state, spec.s3 ? s3Parts(files, spec.s3.out, policy) : linkedParts(run));
      }, state.totalRows);
      await advance('done');
    }
  } finally {
    await Promise.allSettled([events.close(), flows.close(), queue.close()]);
  }
  const report = await writeReports(ctx, ctx.elapsed());
  if (!options.keepWork) {
    await files.removeCommitted();
    await rm(workFiles(run).dir, { recursive: true, force: true });
  }
  return report;
}

interface Engine {
  queue: Queue<JobData, JobResult>;
  flows: FlowProducer;
  events: QueueEvents;
  runId: string;
  run: string;
  log: Logger;
}

/**
 * One pass on the workers: a flow whose children are the pass's jobs (`indices`: shards or
 * classes) and whose parent is the fan-in; returns when the parent is done. Submitting again
 * (a resumed coordinator) adds nothing: the job ids exist already.
 */
async function stage(e: Engine, pass: PassName, parent: JobKind, child: JobKind, indices: number[], rows: number): Promise<void> {
  const data = { run: e.run, runId: e.runId };
  const parentId = jobId(e.runId, parent);
  const childIds = new Set(indices.map((i) => jobId(e.runId, child, i)));
  const progress = new Progress(e.log, pass, rows);
  let jobsDone = 0;
  const counted = new Set<string>();
  const count = (id: string, result: JobResult | undefined) => {
    if (!childIds.has(id) || counted.has(id)) return;
    counted.add(id);
    jobsDone++;
    progress.add(result?.rows ?? 0);
    e.log.info(`${pass} job done`, { job: id, jobsDone, of: indices.length });
  };
  const onCompleted = ({ jobId: id, returnvalue }: { jobId: string; returnvalue: unknown }) => {
    count(id, typeof returnvalue === 'string' ? (JSON.parse(returnvalue) as JobResult) : (returnvalue as JobResult));
  };
  e.events.on('completed', onCompleted);
  try {
    // a pass that failed before (a resumed run, after the cause was fixed): submit it again;
    // its jobs that had finished find their manifests and return at once
    const before = await e.queue.getJob(parentId);
    if (before && (await before.isFailed())) {
      e.log.info('resubmitting failed pass', { pass, job: parentId });
      await before.remove().catch((err: Error) => {
        throw new UsageError(`${e.run}: jobs of the failed ${pass} pass are still running (${err.message}); resume again when they end (gssd status)`);
      });
    }
    await e.flows.add({
      name: parent, queueName: QUEUE, data, opts: { ...JOB_OPTIONS, jobId: parentId },
      children: indices.map((i) => ({ name: child, queueName: QUEUE, data: { ...data, index: i }, opts: { ...JOB_OPTIONS, jobId: jobId(e.runId, child, i), failParentOnFailure: true } })),
    });
    crashPoint('coordinator-stage'); // test hook: the coordinator dies with the pass submitted
    // jobs a previous coordinator saw finish count as done, not as rows/s
    for (const id of childIds) {
      const job = await e.queue.getJob(id);
      if (job && (await job.isCompleted()) && !counted.has(id)) {
        counted.add(id);
        jobsDone++;
        progress.skip((job.returnvalue as JobResult | undefined)?.rows ?? 0);
      }
    }
    for (;;) {
      const job = await e.queue.getJob(parentId);
      const state = job ? await job.getState() : 'unknown';
      if (state === 'completed') break;
      if (state === 'failed') throw new JobFailedError(await failureOf(e, childIds, job?.failedReason));
      await sleep(200);
    }
    for (const id of childIds) if (!counted.has(id)) count(id, (await e.queue.getJob(id))?.returnvalue as JobResult | undefined);
  } finally {
    e.events.off('completed', onCompleted);
  }
  progress.done({ jobs: indices.length });
}

/** A job failed on all its attempts: its error is the message (one line; exit code 2, no stack trace). */
export class JobFailedError extends Error {
  readonly exitCode = 2;
}

/** The one-line reason a pass failed: the first failed child job's error. */
async function failureOf(e: Engine, childIds: Set<string>, parentReason: string | undefined): Promise<string> {
  for (const id of childIds) {
    const job = await e.queue.getJob(id);
    if (job && (await job.isFailed())) return `job ${id} failed after ${job.attemptsMade} attempt(s): ${(job.failedReason ?? '').split('\n')[0]} (gssd status; fix and run again with --resume)`;
  }
  return `the ${e.runId} run failed: ${parentReason ?? 'unknown reason'}`;
}

/**
 * With an s3:// --out: puts the encoder and then the run's spec into the run's work area (once;
 * a resumed coordinator finds them there), so that workers need nothing but the store.
 */
async function shareRun(files: JobFiles, spec: RunSpec, encoder: string, policy: S3ReadOptions): Promise<void> {
  const path = specPath(files.root);
  if (await files.has(path)) return;
  const target = join(files.root, spec.s3!.encoder);
  if ((await stat(encoder)).isDirectory()) {
    for (const file of await filesUnder(encoder)) await uploadFileAtomic(file, files.uri(join(target, relative(encoder, file))), policy);
  } else {
    await uploadFileAtomic(encoder, files.uri(target), policy);
  }
  await files.publish(path);
}

/** As the local run: GSSD compares classes, so at least 2 need a flow. */
function checkClasses(state: CleanseState, options: CleanseOptions): void {
  const usable = trainableClasses(state.embed.labelCounts, state.numClasses!).filter(Boolean).length;
  if (usable < 2) {
    throw new InputError(
      `${options.inputs[0]}${options.inputs.length > 1 ? ' (and others)' : ''}: GSSD compares classes, and only ${usable} class has ${MIN_CLASS_ROWS} or more usable rows (label counts: ${JSON.stringify(state.embed.labelCounts)})`,
    );
  }
}

/** Creates the run directory, its state and spec, or loads those of the run to resume. */
async function openRun(options: CleanseOptions, backend: string, s3Out: string | undefined): Promise<{ state: CleanseState; spec: RunSpec }> {
  const store = new CheckpointStore<CleanseState>(options.out);
  const fingerprint = outputFingerprint(options);
  if (options.resume) {
    const state = await store.load();
    if (state) {
      if (!existsSync(specPath(options.out))) throw new UsageError(`${options.out}: the run there was not started with --engine bullmq; resume it with --engine local`);
      if (JSON.stringify(state.fingerprint) !== JSON.stringify(fingerprint)) {
        throw new UsageError(`${options.out}: the run there was started with other options; resume with the same options, or use --force to start again`);
      }
      const spec = await readSpec(options.out);
      if (spec.s3?.out !== s3Out) throw new UsageError(`${options.out}: the run there wrote to ${spec.s3?.out ?? 'its own directory'}; resume it with that --out`);
      return { state, spec };
    }
  }
  await freshRunDir(options.out, { command: 'cleanse', entries: CLEANSE_RUN_ENTRIES, resume: options.resume, force: options.force });
  const totalRows = await countRows(options.inputs, readOptions(options.source));
  if (totalRows === 0) throw new InputError(`${options.inputs.join(', ')}: no rows to cleanse`);
  const state = initialState(fingerprint, backend, totalRows, VERSION);
  state.encoderDir = options.encoder!;
  state.pass = 'embed';
  const runId = `r${randomBytes(6).toString('hex')}`;
  // with an s3:// --out the workers' view of the run: the output URI (not this machine's run directory), the encoder in the work area
  const spec: RunSpec = s3Out
    ? { runId, options: { ...options, out: s3Out }, s3: { out: s3Out, encoder: `encoder/${basename(options.encoder!)}` } }
    : { runId, options };
  await writeSpec(options.out, spec);
  await store.save(state);
  return { state, spec };
}

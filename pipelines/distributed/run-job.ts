import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readMatrix } from '../../src/io/matrix-file.js';
import { crashPoint } from '../../src/fault.js';
import { initBackend } from '../../src/models/backend.js';
import { openFlowScorer } from '../../src/models/flow-scorer.js';
import { loadClassFlows } from '../../src/models/save.js';
import { RunningStats } from '../../src/stages/standardize.js';
import { FitSampleFile, fitSampleOf, fitSampleRows } from '../../src/stages/fit-sample.js';
import { silentLogger } from '../../src/log.js';
import { VERSION } from '../../src/version.js';
import type { DetectionReport } from '../../src/detect/detection-report.js';
import type { SplitThresholds } from '../../src/detect/split-thresholds.js';
import { concatFiles, embedShard, fitClass, mergeShardStats, scoreShard, type EmbedShardManifest } from '../jobs.js';
import { RunContext } from '../cleanse/context.js';
import { openEncoder } from '../cleanse/open-encoder.js';
import { eligibleRowCount, embeddingColumns, splitEmbeddingRows, trainableClasses, workFiles } from '../../src/io/work-files.js';
import { outputFingerprint } from '../cleanse/options.js';
import { initialState, type SinkName } from '../cleanse/state.js';
import { jobBase, jobsDir, specPath, type JobData, type JobKind, type RunSpec } from './run-spec.js';
import { commitManifest, doneManifest, jobFiles, readCommitted, type JobFiles } from './job-files.js';
import { routeShard } from './route-shard.js';

/**
 * The embed job's manifest: the shard's, plus the encoder runtime that made it. Its `cache` is
 * the path on the machine that wrote it; readers take `<job base>.f32` on their own machine.
 */
export interface EmbedJobManifest extends EmbedShardManifest {
  runtime: string;
}

/** The merge job's manifest (DIR/work/jobs/merge.json): the whole set's embedding summary. */
export interface MergeManifest {
  rows: number;
  featureDim: number;
  numClasses: number;
  labelCounts: number[];
  rejected: number;
  stats: ReturnType<RunningStats['toJSON']>;
  embedRuntime: string;
  /** Per shard: rows and eligible rows (usable label of a class with a flow). */
  shards: { rows: number; eligible: number }[];
  /** With `fitRowsPerClass`: the rows of each class in the fit sample (`FitSample`); absent without. */
  rowsFitted?: number[];
}

/** What the coordinator's detect step hands to the route jobs (DIR/work/jobs/detect.json). */
export interface DetectManifest {
  detection: DetectionReport;
  thresholds: SplitThresholds;
}

/** What a job returns to BullMQ (small: the progress and the report need only counts). */
export interface JobResult {
  rows?: number;
  runtime?: string;
  counts?: Record<SinkName, number>;
}

/**
 * Runs one gssd job (what `gssd worker` executes, in a worker thread): a pure function of the
 * run's spec and the job's shard or class. Every job writes its data under a unique temporary
 * name, renames it into place, commits it, and commits its manifest last; a job whose manifest
 * is committed is done and returns at once, so a job run twice (a worker died after the work, a
 * lock expired) gives the same files. `data.run` is a shared run directory or the s3:// work
 * area of the run (`jobFiles`: what a job reads is staged from there, what it writes uploaded).
 *
 * @example
 *   await runJob('embed', { run: '/shared/out', runId: 'r1a2b', index: 3 });
 */
export async function runJob(kind: JobKind, data: JobData): Promise<JobResult> {
  const files = jobFiles(data.run, data.runId);
  const spec = await readCommitted<RunSpec>(files, specPath(files.root));
  if (!spec) throw new Error(`${files.where}: no run spec (checkpoint/distributed.json); the run was removed`);
  if (spec.runId !== data.runId) throw new Error(`${data.run}: holds run ${spec.runId}, not this job's run ${data.runId} (the run was replaced)`);
  await mkdir(jobsDir(files.root), { recursive: true });
  const k = data.index ?? 0;
  switch (kind) {
    case 'embed':
      return embedJob(files, spec, k);
    case 'merge':
      return mergeJob(files, spec);
    case 'fit':
      return fitJob(files, spec, k);
    case 'score':
      return scoreJob(files, spec, k);
    case 'route':
      return routeJob(files, spec, k);
    default:
      return checkChildren(files, spec, kind); // the fan-in parents: their children did the work
  }
}

/** A fan-in parent is done when every child's manifest is there (a parent retried alone must not pass). */
async function checkChildren(files: JobFiles, spec: RunSpec, kind: JobKind): Promise<JobResult> {
  const child = ({ fitted: 'fit', scored: 'score', routed: 'route' } as Record<string, string>)[kind];
  if (!child) throw new Error(`unknown gssd job kind ${kind}`);
  const run = files.root;
  let indices = spec.options.inputs.map((_, k) => k);
  if (child === 'fit') {
    const merge = await mergeManifest(files);
    indices = trainableClasses(merge.labelCounts, merge.numClasses).flatMap((t, c) => (t ? [c] : []));
  }
  for (const i of indices) if (!(await files.has(`${jobBase(run, child, i)}.json`))) throw new Error(`${kind}: ${child} job ${i} of ${files.where} has not finished`);
  // the run's last job: this machine's staged copies of an s3:// work area have served
  if (kind === 'routed' && files.root !== files.where) await rm(files.root, { recursive: true, force: true });
  return {};
}

/** Stages a committed file a job needs, or says in one line which one is missing. */
async function need(files: JobFiles, path: string, what: string): Promise<string> {
  if (!(await files.fetch(path))) throw new Error(`${files.uri(path)}: ${what} is missing`);
  return path;
}

async function embedJob(files: JobFiles, spec: RunSpec, k: number): Promise<JobResult> {
  const run = files.root;
  const base = jobBase(run, 'embed', k);
  const done = await doneManifest<EmbedJobManifest>(files, `${base}.json`);
  if (done) return { rows: done.rows, runtime: done.runtime };
  const { options } = spec;
  const backend = await backendOnce(options.backend);
  const state = initialState(outputFingerprint(options), backend, 0, VERSION);
  // with an s3:// work area the encoder is there (the coordinator uploaded it), not at the coordinator's path
  if (spec.s3) {
    const local = join(run, spec.s3.encoder);
    if (!(await files.fetchTree(local))) throw new Error(`${files.uri(local)}: the run's encoder is missing`);
    state.encoderDir = local;
  } else {
    state.encoderDir = options.encoder ?? null;
  }
  const encoder = await openEncoder(new RunContext({ ...options, encoder: state.encoderDir ?? undefined }, state, silentLogger));
  const tmp = `${base}.tmp-${unique()}`;
  let m: EmbedShardManifest;
  try {
    await pauseHook('embed', k);
    m = await embedShard(options.inputs[k], encoder, options.source, tmp);
  } finally {
    await encoder.close();
  }
  crashPoint('job-embed'); // the data written, the manifest not yet: the job must run again
  await publish(`${tmp}.f32`, `${base}.f32`);
  await rm(`${tmp}.json`, { force: true });
  await files.publish(`${base}.f32`);
  // `cache` names the file on the machine that wrote it; readers derive it from the job's base
  const manifest: EmbedJobManifest = { ...m, cache: `${base}.f32`, runtime: state.embedRuntime! };
  await commitManifest(files, `${base}.json`, manifest);
  return { rows: m.rows, runtime: manifest.runtime };
}

/**
 * Fan-in of the embed jobs: the shard caches concatenated in shard order (DIR/work/embeddings.f32,
 * what every class's fit reads; with `fitRowsPerClass` the fit sample's rows DIR/work/
 * fit-sample.f32, written in the same pass, are what it reads instead), and the standardisation statistics taken row by row in that
 * order, as the single-machine embed pass takes them (merging the shards' Welford statistics
 * would differ in the last bits, and so would every later number).
 */
async function mergeJob(files: JobFiles, spec: RunSpec): Promise<JobResult> {
  const run = files.root;
  const path = jobBase(run, 'merge') + '.json';
  const done = await doneManifest<MergeManifest>(files, path);
  if (done) return { rows: done.rows };
  const { options } = spec;
  const manifests: EmbedJobManifest[] = [];
  const caches: string[] = [];
  for (let k = 0; k < options.inputs.length; k++) {
    const base = jobBase(run, 'embed', k);
    const m = await readCommitted<EmbedJobManifest>(files, `${base}.json`);
    if (!m) throw new Error(`merge: shard ${k} (${options.inputs[k]}) has no embed manifest`);
    manifests.push(m);
    caches.push(await need(files, `${base}.f32`, `the embedding cache of shard ${k}`));
  }
  const runtimes = [...new Set(manifests.map((m) => m.runtime))];
  if (runtimes.length > 1) throw new Error(`merge: the shards were embedded with different runtimes (${runtimes.join(', ')}); give every worker the same ONNX Runtime / TF.js setup`);
  const d = manifests[0].featureDim;
  const cache = workFiles(run).embeddings;
  const tmp = `${cache}.tmp-${unique()}`;
  await concatFiles(caches, tmp);
  const { labelCounts, rows } = mergeShardStats(manifests);
  const numClasses = options.source.numClasses ?? labelCounts.length;
  const trainable = trainableClasses(labelCounts, numClasses);
  // the fit sample's rows (DIR/work/fit-sample.f32) and count per class, written in the same pass as the local fit pass writes them
  const sample = fitSampleOf(options.fitRowsPerClass, labelCounts, options.seed);
  const sampleFile = sample ? await FitSampleFile.open(workFiles(run).fitSample, d, sample, trainable) : null;
  const stats = new RunningStats(d);
  try {
    for await (const chunk of readMatrix(tmp, embeddingColumns(d), { chunkRows: 4096 })) {
      const good = splitEmbeddingRows(chunk.rows, chunk.n, d, (label) => label >= 0);
      stats.addRows(good.h, good.n);
      await sampleFile?.add(chunk.rows, chunk.n, chunk.start);
    }
  } catch (err) {
    await sampleFile?.abort();
    throw err;
  }
  const rowsFitted = await sampleFile?.finish();
  await publish(tmp, cache);
  // the fit jobs read the sample file when there is one, else the merged cache: commit only what they read
  await files.publish(sampleFile ? workFiles(run).fitSample : cache);
  const shards = manifests.map((m) => ({ rows: m.rows, eligible: eligibleRowCount(m.labelCounts, trainable) }));
  const manifest: MergeManifest = {
    rows, featureDim: d, numClasses, labelCounts, rejected: manifests.reduce((s, m) => s + m.rejects.length, 0),
    stats: stats.toJSON(), embedRuntime: runtimes[0], shards, ...(rowsFitted ? { rowsFitted } : {}),
  };
  await commitManifest(files, path, manifest);
  return { rows };
}

async function fitJob(files: JobFiles, spec: RunSpec, label: number): Promise<JobResult> {
  const run = files.root;
  const base = jobBase(run, 'fit', label);
  const done = await doneManifest<{ label: number; rows: number }>(files, `${base}.json`);
  if (done) return { rows: done.rows };
  const { options } = spec;
  await backendOnce(options.backend);
  const merge = await mergeManifest(files);
  const trainable = trainableClasses(merge.labelCounts, merge.numClasses);
  // with a fit sample the flows are fitted on its file (written by the merge job), not on the whole cache
  const [cache, rows] = merge.rowsFitted
    ? [await need(files, workFiles(run).fitSample, 'the fit sample'), fitSampleRows(merge.rowsFitted, trainable)]
    : [await need(files, workFiles(run).embeddings, 'the merged embedding cache'), merge.rows];
  const tmp = `${base}.tmp-${unique()}`;
  await pauseHook('fit', label);
  await fitClass({
    cache, featureDim: merge.featureDim, rows, numClasses: merge.numClasses, label,
    stats: RunningStats.fromJSON(merge.stats), epochs: options.flowEpochs, batch: options.flowBatch, lr: options.flowLr, seed: options.seed, out: tmp,
  });
  crashPoint('job-fit');
  await publish(tmp, base);
  await files.publish(base);
  const fitted = ((merge.rowsFitted ?? merge.labelCounts)[label] ?? 0) * options.flowEpochs;
  await commitManifest(files, `${base}.json`, { label, rows: fitted });
  return { rows: fitted };
}

async function scoreJob(files: JobFiles, spec: RunSpec, k: number): Promise<JobResult> {
  const run = files.root;
  const base = jobBase(run, 'score', k);
  const done = await doneManifest<{ rows: number; runtime: string }>(files, `${base}.json`);
  if (done) return done;
  const { options } = spec;
  await backendOnce(options.backend);
  const merge = await mergeManifest(files);
  const trainable = trainableClasses(merge.labelCounts, merge.numClasses);
  const labels = trainable.flatMap((t, c) => (t ? [c] : []));
  for (const c of labels) if (!(await files.fetchTree(jobBase(run, 'fit', c)))) throw new Error(`${files.uri(jobBase(run, 'fit', c))}: the flow of class ${c} is missing`);
  const cache = await need(files, `${jobBase(run, 'embed', k)}.f32`, `the embedding cache of shard ${k}`);
  const bank = await loadClassFlows(labels.map((c) => jobBase(run, 'fit', c)));
  const tmp = `${base}.tmp-${unique()}`;
  let runtime: string;
  try {
    const scorer = await openFlowScorer(bank, options.scoreRuntime);
    runtime = scorer.runtime;
    try {
      await pauseHook('score', k);
      await scoreShard(cache, merge.featureDim, scorer, RunningStats.fromJSON(merge.stats), trainable, tmp);
    } finally {
      await scorer.close();
    }
  } finally {
    bank.dispose();
  }
  crashPoint('job-score');
  await publish(`${tmp}.f32`, `${base}.f32`);
  await files.publish(`${base}.f32`);
  const result = { rows: merge.shards[k].rows, runtime };
  await commitManifest(files, `${base}.json`, result);
  return result;
}

async function routeJob(files: JobFiles, spec: RunSpec, k: number): Promise<JobResult> {
  const run = files.root;
  const base = jobBase(run, 'route', k);
  const done = await doneManifest<{ rows: number; counts: Record<SinkName, number> }>(files, `${base}.json`);
  if (done) return done;
  const { options } = spec;
  const merge = await mergeManifest(files);
  const detect = await readCommitted<DetectManifest>(files, jobBase(run, 'detect') + '.json');
  if (!detect) throw new Error(`route: ${files.where} has no detection result yet`);
  const embed = (await readCommitted<EmbedJobManifest>(files, `${jobBase(run, 'embed', k)}.json`))!;
  const likelihood = await need(files, `${jobBase(run, 'score', k)}.f32`, `the likelihoods of shard ${k}`);
  const tmp = `${base}.tmp-${unique()}`;
  await pauseHook('route', k);
  const { counts } = await routeShard({
    input: options.inputs[k], source: options.source, likelihood, numClasses: merge.numClasses,
    trainable: trainableClasses(merge.labelCounts, merge.numClasses), thresholds: detect.thresholds,
    eligibleStart: merge.shards.slice(0, k).reduce((s, x) => s + x.eligible, 0), rejects: embed.rejects, dir: tmp, partRows: options.partRows,
    metadata: { gssd_version: VERSION, gssd_params: JSON.stringify(outputFingerprint(options)), gssd_flagged: JSON.stringify(detect.detection.flagged) },
  });
  crashPoint('job-route');
  await publish(tmp, base);
  await files.publish(base);
  const result = { rows: merge.shards[k].rows, counts };
  await commitManifest(files, `${base}.json`, result);
  return result;
}

/** The merge job's manifest (committed), staged. */
export async function mergeManifest(files: JobFiles): Promise<MergeManifest> {
  const m = await readCommitted<MergeManifest>(files, jobBase(files.root, 'merge') + '.json');
  if (!m) throw new Error(`${files.where}: the embed merge has not finished`);
  return m;
}

/**
 * Moves a finished temporary file or directory into place. If another run of the same job got
 * there first, its output is the same: keep it and drop ours.
 */
async function publish(tmp: string, final: string): Promise<void> {
  try {
    await rename(tmp, final);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if ((code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'EISDIR') && existsSync(final)) {
      await rm(tmp, { recursive: true, force: true });
      return;
    }
    throw err;
  }
}

function unique(): string {
  return `${process.pid}-${randomBytes(4).toString('hex')}`;
}

let backend: Promise<string> | null = null;
function backendOnce(name: RunSpec['options']['backend']): Promise<string> {
  backend ??= initBackend(name);
  return backend;
}

/**
 * Test hook: with GSSD_JOB_PAUSE=`<kind>:<dir>`, a job of that kind writes `<dir>/paused` and
 * waits until `<dir>/go` exists (e.g. while a test restarts Redis under a running job).
 */
async function pauseHook(kind: string, index: number): Promise<void> {
  const spec = process.env.GSSD_JOB_PAUSE;
  if (!spec || !spec.startsWith(`${kind}:`)) return;
  const dir = spec.slice(kind.length + 1);
  if (existsSync(join(dir, 'go'))) return;
  await writeFile(join(dir, 'paused'), `${kind} ${index}\n`);
  while (!existsSync(join(dir, 'go'))) await sleep(50);
}

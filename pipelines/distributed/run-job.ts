import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeFileAtomic } from '../../src/io/atomic-file.js';
import { readMatrix } from '../../src/io/matrix-file.js';
import { crashPoint } from '../../src/fault.js';
import { initBackend } from '../../src/models/backend.js';
import { openFlowScorer } from '../../src/models/flow-scorer.js';
import { loadClassFlows } from '../../src/models/save.js';
import { RunningStats } from '../../src/stages/standardize.js';
import { fitSampleOf } from '../../src/stages/fit-sample.js';
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
import { jobBase, jobsDir, readSpec, type JobData, type JobKind, type RunSpec } from './run-spec.js';
import { routeShard } from './route-shard.js';

/** The embed job's manifest: the shard's, plus the encoder runtime that made it. */
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
 * name, renames it into place, and writes its manifest last; a job whose manifest exists is
 * done and returns at once, so a job run twice (a worker died after the work, a lock expired)
 * gives the same files.
 *
 * @example
 *   await runJob('embed', { run: '/shared/out', runId: 'r1a2b', index: 3 });
 */
export async function runJob(kind: JobKind, data: JobData): Promise<JobResult> {
  const spec = await readSpec(data.run);
  if (spec.runId !== data.runId) throw new Error(`${data.run}: holds run ${spec.runId}, not this job's run ${data.runId} (the run was replaced)`);
  await mkdir(jobsDir(data.run), { recursive: true });
  const k = data.index ?? 0;
  switch (kind) {
    case 'embed':
      return embedJob(data.run, spec, k);
    case 'merge':
      return mergeJob(data.run, spec);
    case 'fit':
      return fitJob(data.run, spec, k);
    case 'score':
      return scoreJob(data.run, spec, k);
    case 'route':
      return routeJob(data.run, spec, k);
    default:
      return checkChildren(data.run, spec, kind); // the fan-in parents: their children did the work
  }
}

/** A fan-in parent is done when every child's manifest is there (a parent retried alone must not pass). */
async function checkChildren(run: string, spec: RunSpec, kind: JobKind): Promise<JobResult> {
  const child = ({ fitted: 'fit', scored: 'score', routed: 'route' } as Record<string, string>)[kind];
  if (!child) throw new Error(`unknown gssd job kind ${kind}`);
  let indices = spec.options.inputs.map((_, k) => k);
  if (child === 'fit') {
    const merge = await mergeManifest(run);
    indices = trainableClasses(merge.labelCounts, merge.numClasses).flatMap((t, c) => (t ? [c] : []));
  }
  for (const i of indices) if (!existsSync(`${jobBase(run, child, i)}.json`)) throw new Error(`${kind}: ${child} job ${i} of ${run} has not finished`);
  return {};
}

async function embedJob(run: string, spec: RunSpec, k: number): Promise<JobResult> {
  const base = jobBase(run, 'embed', k);
  const done = await readJson<EmbedJobManifest>(`${base}.json`);
  if (done) return { rows: done.rows, runtime: done.runtime };
  const { options } = spec;
  const backend = await backendOnce(options.backend);
  const state = initialState(outputFingerprint(options), backend, 0, VERSION);
  state.encoderDir = options.encoder ?? null;
  const encoder = await openEncoder(new RunContext(options, state, silentLogger));
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
  const manifest: EmbedJobManifest = { ...m, cache: `${base}.f32`, runtime: state.embedRuntime! };
  await writeFileAtomic(`${base}.json`, JSON.stringify(manifest));
  return { rows: m.rows, runtime: manifest.runtime };
}

/**
 * Fan-in of the embed jobs: the shard caches concatenated in shard order (DIR/work/embeddings.f32,
 * what every class's fit reads), and the standardisation statistics taken row by row in that
 * order, as the single-machine embed pass takes them (merging the shards' Welford statistics
 * would differ in the last bits, and so would every later number).
 */
async function mergeJob(run: string, spec: RunSpec): Promise<JobResult> {
  const path = jobBase(run, 'merge') + '.json';
  const done = await readJson<MergeManifest>(path);
  if (done) return { rows: done.rows };
  const { options } = spec;
  const manifests: EmbedJobManifest[] = [];
  for (let k = 0; k < options.inputs.length; k++) {
    const m = await readJson<EmbedJobManifest>(`${jobBase(run, 'embed', k)}.json`);
    if (!m) throw new Error(`merge: shard ${k} (${options.inputs[k]}) has no embed manifest`);
    manifests.push(m);
  }
  const runtimes = [...new Set(manifests.map((m) => m.runtime))];
  if (runtimes.length > 1) throw new Error(`merge: the shards were embedded with different runtimes (${runtimes.join(', ')}); give every worker the same ONNX Runtime / TF.js setup`);
  const d = manifests[0].featureDim;
  const cache = workFiles(run).embeddings;
  const tmp = `${cache}.tmp-${unique()}`;
  await concatFiles(manifests.map((m) => m.cache), tmp);
  const { labelCounts, rows } = mergeShardStats(manifests);
  const numClasses = options.source.numClasses ?? labelCounts.length;
  // the fit sample's count per class, in the same pass (the local fit pass counts it the same way)
  const sample = fitSampleOf(options.fitRowsPerClass, labelCounts, options.seed);
  const rowsFitted = sample ? new Array<number>(numClasses).fill(0) : undefined;
  const stats = new RunningStats(d);
  let at = 0;
  for await (const chunk of readMatrix(tmp, embeddingColumns(d), { chunkRows: 4096 })) {
    const good = splitEmbeddingRows(chunk.rows, chunk.n, d, (label) => label >= 0);
    stats.addRows(good.h, good.n);
    if (sample) sample.count(chunk.rows, chunk.n, d, at, rowsFitted!);
    at += chunk.n;
  }
  await publish(tmp, cache);
  const trainable = trainableClasses(labelCounts, numClasses);
  const shards = manifests.map((m) => ({ rows: m.rows, eligible: eligibleRowCount(m.labelCounts, trainable) }));
  const manifest: MergeManifest = {
    rows, featureDim: d, numClasses, labelCounts, rejected: manifests.reduce((s, m) => s + m.rejects.length, 0),
    stats: stats.toJSON(), embedRuntime: runtimes[0], shards, ...(rowsFitted ? { rowsFitted } : {}),
  };
  await writeFileAtomic(path, JSON.stringify(manifest));
  return { rows };
}

async function fitJob(run: string, spec: RunSpec, label: number): Promise<JobResult> {
  const base = jobBase(run, 'fit', label);
  const done = await readJson<{ label: number; rows: number }>(`${base}.json`);
  if (done) return { rows: done.rows };
  const { options } = spec;
  await backendOnce(options.backend);
  const merge = await mergeManifest(run);
  const tmp = `${base}.tmp-${unique()}`;
  await pauseHook('fit', label);
  await fitClass({
    cache: workFiles(run).embeddings, featureDim: merge.featureDim, rows: merge.rows, numClasses: merge.numClasses, label,
    stats: RunningStats.fromJSON(merge.stats), epochs: options.flowEpochs, batch: options.flowBatch, lr: options.flowLr, seed: options.seed, out: tmp,
    sample: fitSampleOf(options.fitRowsPerClass, merge.labelCounts, options.seed),
  });
  crashPoint('job-fit');
  await publish(tmp, base);
  const rows = ((merge.rowsFitted ?? merge.labelCounts)[label] ?? 0) * options.flowEpochs;
  await writeFileAtomic(`${base}.json`, JSON.stringify({ label, rows }));
  return { rows };
}

async function scoreJob(run: string, spec: RunSpec, k: number): Promise<JobResult> {
  const base = jobBase(run, 'score', k);
  const done = await readJson<{ rows: number; runtime: string }>(`${base}.json`);
  if (done) return done;
  const { options } = spec;
  await backendOnce(options.backend);
  const merge = await mergeManifest(run);
  const trainable = trainableClasses(merge.labelCounts, merge.numClasses);
  const labels = trainable.flatMap((t, c) => (t ? [c] : []));
  const bank = await loadClassFlows(labels.map((c) => jobBase(run, 'fit', c)));
  const tmp = `${base}.tmp-${unique()}`;
  let runtime: string;
  try {
    const scorer = await openFlowScorer(bank, options.scoreRuntime);
    runtime = scorer.runtime;
    try {
      await pauseHook('score', k);
      await scoreShard(`${jobBase(run, 'embed', k)}.f32`, merge.featureDim, scorer, RunningStats.fromJSON(merge.stats), trainable, tmp);
    } finally {
      await scorer.close();
    }
  } finally {
    bank.dispose();
  }
  crashPoint('job-score');
  await publish(`${tmp}.f32`, `${base}.f32`);
  const result = { rows: merge.shards[k].rows, runtime };
  await writeFileAtomic(`${base}.json`, JSON.stringify(result));
  return result;
}

async function routeJob(run: string, spec: RunSpec, k: number): Promise<JobResult> {
  const base = jobBase(run, 'route', k);
  const done = await readJson<{ rows: number; counts: Record<SinkName, number> }>(`${base}.json`);
  if (done) return done;
  const { options } = spec;
  const merge = await mergeManifest(run);
  const detect = await readJson<DetectManifest>(jobBase(run, 'detect') + '.json');
  if (!detect) throw new Error(`route: ${run} has no detection result yet`);
  const embed = (await readJson<EmbedJobManifest>(`${jobBase(run, 'embed', k)}.json`))!;
  const tmp = `${base}.tmp-${unique()}`;
  await pauseHook('route', k);
  const { counts } = await routeShard({
    input: options.inputs[k], source: options.source, likelihood: `${jobBase(run, 'score', k)}.f32`, numClasses: merge.numClasses,
    trainable: trainableClasses(merge.labelCounts, merge.numClasses), thresholds: detect.thresholds,
    eligibleStart: merge.shards.slice(0, k).reduce((s, x) => s + x.eligible, 0), rejects: embed.rejects, dir: tmp, partRows: options.partRows,
    metadata: { gssd_version: VERSION, gssd_params: JSON.stringify(outputFingerprint(options)), gssd_flagged: JSON.stringify(detect.detection.flagged) },
  });
  crashPoint('job-route');
  await publish(tmp, base);
  const result = { rows: merge.shards[k].rows, counts };
  await writeFileAtomic(`${base}.json`, JSON.stringify(result));
  return result;
}

export async function mergeManifest(run: string): Promise<MergeManifest> {
  const m = await readJson<MergeManifest>(jobBase(run, 'merge') + '.json');
  if (!m) throw new Error(`${run}: the embed merge has not finished`);
  return m;
}

export async function readJson<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
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

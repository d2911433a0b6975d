/**
 * Do the two training runtimes agree? (issue #12, Correctness: "two SimCLR epochs on 10,000
 * CIFAR-10 rows: loss curve on ONNX within noise of TF.js's; the resulting encoders give
 * 20-NN accuracy within 1 point of each other".) On the first `--rows` rows of CIFAR-10
 * train (../shared/data/cifar10, or GSSD_CIFAR10_DIR), runs the built CLI's
 * `gssd pretrain --train-runtime onnx` and then `--train-runtime tfjs`, same seed and budget,
 * one after the other; takes each epoch's mean loss from the run's `--log json` lines
 * (`pretrain epoch` events) and its wall time; then embeds the same rows with each encoder on
 * the embed path `gssd cleanse` uses (ONNX export with BatchNorm folded, `OnnxEncoder`, the
 * embed stage) and computes the leave-one-out k-NN accuracy of each (cosine, true labels,
 * `src/eval/knn-accuracy.ts`).
 *
 *   npm run bench:agreement -- [--rows 10000] [--epochs 2] [--width 16] [--batch 256] [--seed 0]
 *       [--k 20] [--simclr-shards S] [--yardstick] [--name runtime-agreement] [--keep DIR]
 *
 * `--yardstick` adds a third run, onnx with seed + 1, as the scale of "noise": how far the
 * epoch losses and the k-NN accuracy move when only the seed (initial weights, data order,
 * augmentations) changes, next to how far they move when only the runtime changes.
 * `--simclr-shards` goes to the tfjs run (default: the CLI's, 2: per-shard BatchNorm, as a
 * TF.js run has by default; 1 makes the math the same as ONNX's, on one thread). `--keep DIR`
 * keeps the subset and every run's output (encoder, checkpoint) in DIR, a new or empty directory. Prints a table and writes
 * bench/results/NAME.md and .json, with the load average at start and end.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readBatches } from '../src/io/read.js';
import { PartSink } from '../src/io/part-sink.js';
import { knnAccuracy } from '../src/eval/knn-accuracy.js';
import { arg } from './lib/args.js';
import { embedFeatures } from './lib/features-knn.js';

const CLI = resolve('dist/src/bin.js');
const CIFAR = resolve(process.env.GSSD_CIFAR10_DIR ?? '../shared/data/cifar10');
const RUNTIMES = ['onnx', 'tfjs'] as const;
type Runtime = (typeof RUNTIMES)[number];

function intArg(name: string, fallback: number, min: number): number {
  const v = Number(arg(name, String(fallback)));
  if (!Number.isInteger(v) || v < min) usage(`--${name} takes an integer from ${min} up, got ${arg(name, '')}`);
  return v;
}

function usage(message: string): never {
  console.error(`bench:agreement: ${message}`);
  process.exit(2);
}

const budget = {
  rows: intArg('rows', 10_000, 2),
  epochs: intArg('epochs', 2, 1),
  width: intArg('width', 16, 1),
  batch: intArg('batch', 256, 2),
  seed: intArg('seed', 0, 0),
  k: intArg('k', 20, 1),
  simclrShards: process.argv.includes('--simclr-shards') ? intArg('simclr-shards', 2, 1) : undefined,
  yardstick: process.argv.includes('--yardstick'),
};
const NAME = arg('name', 'runtime-agreement');
const KEEP = process.argv.includes('--keep') ? resolve(arg('keep', '') || usage('--keep needs a directory')) : undefined;

interface RunResult {
  /** `onnx`, `tfjs`, or `onnx-seedS` (the yardstick). */
  name: string;
  runtime: Runtime;
  seed: number;
  /** The `pretrain runtime` the run logged (e.g. `onnx-cpu (2 threads)`, `tfjs-wasm (2 threads)`). */
  engine: string | null;
  /** The TensorFlow.js backend the run started (its `backend` event). */
  backend: string | null;
  epochMeanLoss: number[];
  seconds: number;
  command: string;
  knn?: { accuracy: number; correct: number; rows: number; k: number };
  embedSeconds?: number;
  knnSeconds?: number;
}

/** The first `rows` rows of `inputs` as one Parquet part in `out`; returns the rows written. */
async function subset(inputs: string[], rows: number, out: string): Promise<number> {
  const sink = await PartSink.open(out);
  let left = rows;
  for await (const b of readBatches(inputs)) {
    if (left <= 0) break;
    await sink.write(b.numRows <= left ? b : b.slice(0, left));
    left -= Math.min(left, b.numRows);
  }
  await sink.close();
  return rows - left;
}

/** `gssd pretrain` on one runtime: its per-epoch mean losses (from `--log json`), engine and wall time. */
function pretrain(name: string, runtime: Runtime, seed: number, data: string, out: string): Promise<RunResult> {
  const args = [
    'pretrain', data, '--out', out, '--train-runtime', runtime, '--epochs', String(budget.epochs), '--width', String(budget.width),
    '--batch', String(budget.batch), '--seed', String(seed),
    ...(runtime === 'tfjs' && budget.simclrShards !== undefined ? ['--simclr-shards', String(budget.simclrShards)] : []),
    '--log', 'json',
  ];
  const command = `gssd ${args.map((a) => (a === data ? 'SUBSET' : a === out ? `OUT-${name}` : a)).join(' ')}`;
  const result: RunResult = { name, runtime, seed, engine: null, backend: null, epochMeanLoss: [], seconds: 0, command };
  const started = Date.now();
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let pendingLine = '';
  let lastLines: string[] = [];
  const onLine = (line: string) => {
    lastLines = [...lastLines.slice(-4), line];
    if (!line.startsWith('{')) return;
    const e = JSON.parse(line) as Record<string, unknown>;
    if (e.event === 'backend') result.backend = String(e.backend);
    if (e.event === 'pretrain runtime') result.engine = String(e.runtime);
    if (e.event === 'pretrain epoch') {
      result.epochMeanLoss.push(Number(e.meanLoss));
      console.log(`  ${name}: epoch ${e.epoch}/${e.of} mean loss ${e.meanLoss} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    }
  };
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    const lines = (pendingLine + chunk).split('\n');
    pendingLine = lines.pop() ?? '';
    lines.forEach(onLine);
  });
  return new Promise((done, fail) => {
    child.on('error', fail);
    child.on('close', (status) => {
      if (pendingLine) onLine(pendingLine);
      result.seconds = (Date.now() - started) / 1000;
      if (status !== 0) fail(new Error(`${command} failed (exit ${status}): ${lastLines.join(' | ')}`));
      else if (result.epochMeanLoss.length !== budget.epochs) fail(new Error(`${command}: expected ${budget.epochs} 'pretrain epoch' events, got ${result.epochMeanLoss.length}`));
      else done(result);
    });
  });
}


function gitCommit(): string {
  const r = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : 'unknown';
}

const fmt = (x: number, digits = 4) => x.toFixed(digits);
const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

async function main(): Promise<void> {
  if (!existsSync(CLI)) usage(`${CLI} is missing: run npm run build first (npm run bench:agreement does)`);
  if (!existsSync(join(CIFAR, 'train-00000-of-00005.parquet'))) {
    console.log(`[skip] CIFAR-10 not found at ${CIFAR}`);
    return;
  }
  const loadStart = loadavg();
  const date = new Date().toISOString();
  const root = KEEP ?? (await mkdtemp(join(tmpdir(), 'gssd-agreement-')));
  if (KEEP) {
    if (existsSync(KEEP) && (await readdir(KEEP)).length > 0) usage(`--keep ${KEEP} is not empty; give a new or empty directory`);
    await mkdir(KEEP, { recursive: true });
  }
  try {
    const data = join(root, 'train');
    const shards = [0, 1, 2, 3, 4].map((k) => join(CIFAR, `train-0000${k}-of-00005.parquet`));
    const rows = await subset(shards, budget.rows, data);
    if (rows !== budget.rows) usage(`CIFAR-10 train has ${rows} rows, fewer than --rows ${budget.rows}`);
    console.log(`runtime agreement: the first ${rows} CIFAR-10 train rows, ${budget.epochs} epochs, width ${budget.width}, batch ${budget.batch}, seed ${budget.seed}; load ${loadStart.map((x) => x.toFixed(2)).join(' ')}`);
    const runs: RunResult[] = [];
    const plan: [string, Runtime, number][] = RUNTIMES.map((r) => [r, r, budget.seed]);
    if (budget.yardstick) plan.push([`onnx-seed${budget.seed + 1}`, 'onnx', budget.seed + 1]);
    for (const [name, runtime, seed] of plan) runs.push(await pretrain(name, runtime, seed, data, join(root, `enc-${name}`)));
    let embedRuntime = '';
    for (const run of runs) {
      const t0 = Date.now();
      const { features, labels, dim, runtime } = await embedFeatures(join(root, `enc-${run.name}`, 'encoder'), data);
      embedRuntime = runtime;
      const t1 = Date.now();
      const { accuracy, correct, rows: n, k } = knnAccuracy(features, labels, dim, { k: budget.k });
      run.knn = { accuracy, correct, rows: n, k };
      run.embedSeconds = (t1 - t0) / 1000;
      run.knnSeconds = (Date.now() - t1) / 1000;
      console.log(`  ${run.name}: ${budget.k}-NN accuracy ${pct(accuracy)} (${correct}/${n}; embed ${run.embedSeconds.toFixed(1)} s, k-NN ${run.knnSeconds.toFixed(1)} s)`);
    }
    const loadEnd = loadavg();
    const [onnx, tfjs] = runs;
    const epochDiffs = onnx.epochMeanLoss.map((l, e) => l - tfjs.epochMeanLoss[e]);
    const maxEpochLossDiff = Math.max(...epochDiffs.map(Math.abs));
    const knnDiffPoints = 100 * (onnx.knn!.accuracy - tfjs.knn!.accuracy);
    const other = runs[2];
    const yardstick = other
      ? {
          seed: other.seed,
          epochLossDiff: onnx.epochMeanLoss.map((l, e) => l - other.epochMeanLoss[e]),
          maxEpochLossDiff: Math.max(...onnx.epochMeanLoss.map((l, e) => Math.abs(l - other.epochMeanLoss[e]))),
          knnDiffPoints: 100 * (onnx.knn!.accuracy - other.knn!.accuracy),
        }
      : null;
    const result = {
      date,
      commit: gitCommit(),
      command: `npm run bench:agreement --${process.argv.slice(2).map((a) => ` ${a}`).join('')}`,
      budget: { ...budget, simclrShards: budget.simclrShards ?? 'CLI default (2)', data: `first ${budget.rows} rows of ${CIFAR}/train-*.parquet` },
      loadavg: { start: loadStart, end: loadEnd },
      embedRuntime,
      runs,
      epochLossDiff: epochDiffs,
      maxEpochLossDiff,
      knnDiffPoints,
      knnWithin1Point: Math.abs(knnDiffPoints) <= 1,
      yardstick,
    };
    const md = render(result);
    console.log('\n' + md);
    await mkdir('bench/results', { recursive: true });
    await writeFile(`bench/results/${NAME}.json`, JSON.stringify(result, null, 2) + '\n');
    await writeFile(`bench/results/${NAME}.md`, md);
    console.log(`wrote bench/results/${NAME}.md and .json`);
  } finally {
    if (!KEEP) await rm(root, { recursive: true, force: true });
  }
}

function render(r: {
  date: string;
  commit: string;
  command: string;
  loadavg: { start: number[]; end: number[] };
  embedRuntime: string;
  runs: RunResult[];
  epochLossDiff: number[];
  maxEpochLossDiff: number;
  knnDiffPoints: number;
  knnWithin1Point: boolean;
  yardstick: { seed: number; epochLossDiff: number[]; maxEpochLossDiff: number; knnDiffPoints: number } | null;
}): string {
  const [onnx, tfjs, other] = r.runs;
  const y = r.yardstick;
  const signed = (x: number, digits: number) => `${x >= 0 ? '+' : ''}${x.toFixed(digits)}`;
  const head = other ? ` ${other.name} | onnx - ${other.name} (seed only) |` : '';
  const cell = (f: (run: RunResult) => string, diff: string) => (other ? ` ${f(other)} | ${diff} |` : '');
  const lines = [
    `# Training runtimes agree? ONNX Runtime vs TF.js (issue 12, Correctness)`,
    '',
    `${r.date}, commit ${r.commit}. The first ${budget.rows} rows of CIFAR-10 train, SimCLR ${budget.epochs} epochs, width ${budget.width}, batch ${budget.batch}, seed ${budget.seed}, the same for both runtimes; the runs one after the other.`,
    `Load average (1/5/15 min) at start ${r.loadavg.start.map((x) => x.toFixed(2)).join(' / ')}, at end ${r.loadavg.end.map((x) => x.toFixed(2)).join(' / ')}.`,
    '',
    `| | onnx | tfjs | onnx - tfjs (runtime only) |${head}`,
    `| --- | --- | --- | --- |${other ? ' --- | --- |' : ''}`,
    `| engine (as logged) | ${onnx.engine} | ${tfjs.engine} | |${cell((run) => String(run.engine), '')}`,
    ...onnx.epochMeanLoss.map(
      (l, e) => `| epoch ${e + 1} mean loss | ${fmt(l)} | ${fmt(tfjs.epochMeanLoss[e])} | ${signed(r.epochLossDiff[e], 4)} |${cell((run) => fmt(run.epochMeanLoss[e]), y ? signed(y.epochLossDiff[e], 4) : '')}`,
    ),
    `| ${budget.k}-NN accuracy (leave-one-out, cosine) | ${pct(onnx.knn!.accuracy)} | ${pct(tfjs.knn!.accuracy)} | ${signed(r.knnDiffPoints, 2)} points |${cell((run) => pct(run.knn!.accuracy), y ? `${signed(y.knnDiffPoints, 2)} points` : '')}`,
    `| pretrain wall time | ${onnx.seconds.toFixed(1)} s | ${tfjs.seconds.toFixed(1)} s | tfjs / onnx ${(tfjs.seconds / onnx.seconds).toFixed(2)}x |${cell((run) => `${run.seconds.toFixed(1)} s`, '')}`,
    '',
    `- Largest per-epoch difference of the mean loss between the runtimes: ${fmt(r.maxEpochLossDiff)}${y ? `; between two onnx seeds: ${fmt(y.maxEpochLossDiff)}` : ''} (the logged means are rounded to 4 decimals).`,
    `- ${budget.k}-NN accuracies of the two runtimes differ by ${Math.abs(r.knnDiffPoints).toFixed(2)} points: ${r.knnWithin1Point ? 'within' : 'NOT within'} the issue's 1 point${y ? `; two onnx seeds differ by ${Math.abs(y.knnDiffPoints).toFixed(2)} points` : ''}.`,
    `- Both runtimes train from the same seeded weights on the same batches and augmentations; they differ in kernels${Number(/(\d+) shards/.exec(tfjs.engine ?? '')?.[1] ?? 1) > 1 ? ' and in BatchNorm statistics (the tfjs run normalises per shard of the batch, onnx over the whole batch)' : ''}.`,
    `- All encoders embedded the rows on the same path (${r.embedRuntime}, BatchNorm folded, as \`gssd cleanse\` does); the k-NN votes with true labels, ties to the nearest.`,
    `- Command: \`${r.command}\`; the runs: ${r.runs.map((run) => `\`${run.command}\``).join(', ')}.`,
    '',
  ];
  return lines.join('\n');
}

await main().catch((err: unknown) => {
  console.error(`bench:agreement: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});

/**
 * The encoder ladder (issue #14): what each encoder buys. The same poisoned CIFAR-10 rows per
 * attack (the first `--rows` training rows, target 0, poison seed 1) go through the same
 * `gssd cleanse` and `gssd evaluate` with four encoders ("rungs"). `--attacks` may add `lc`
 * (Label-Consistent: PGD against the transfer rung's classifier, then the corner trigger).
 * The rungs:
 *   pixels     raw pixels, 4 x 4 average-pooled (192 features; the cleanse standardises them)
 *   untrained  a seeded, untrained ResNet-18 of `--width`
 *   simclr     `gssd pretrain` on the attack's poisoned rows (`--pretrain-epochs`, `--width`)
 *   transfer   a ResNet-18 trained with labels by `gssd train` on CIFAR-10 train shards 3 and 4
 *              (rows 30,000-49,999, never poisoned or evaluated), its backbone exported with
 *              `gssd export-onnx --model`: the "bring a trusted pretrained backbone" case
 * Per rung and attack: 20-NN accuracy of the features (leave-one-out, cosine, true labels, on the
 * clean rows), target found / clean classes flagged by robust (default) and paper detection, the
 * target's outlier indices, the score's within-class AUROC and own rows kept by the best cut at
 * 99% removal, removal recall / clean loss / relabel accuracy at the defaults, and the same for
 * the Deep k-NN baseline (`--detector knn`) on the same features. On the transfer rung it trains
 * the final classifier for `--retrain-attacks` with no defence, on GSSD's split (clean + fine-tune
 * on the relabelled rows) and on the oracle split (the true poison removed), same budget.
 * Per rung except simclr (its encoder is pretrained on each attack's rows), it also cleanses the
 * first `--rows` rows of unpoisoned train shards 0-2 (`--clean-shards`): every flag there is a
 * false alarm, and the largest outlier indices show the margin.
 *
 *   npm run bench:efficacy -- [--rungs pixels,untrained,simclr,transfer] [--attacks badnets,...]
 *       [--rows 10000] [--test-rows 2000] [--width 16] [--pretrain-epochs 5]
 *       [--transfer-epochs 20] [--retrain-attacks badnets,blend,wanet] [--retrain-epochs 10]
 *       [--no-retrain] [--retrain-on default|paper] [--retrain-only] [--retrain-models none,gssd,oracle] [--retest]
 *       [--modes default,paper,knn] [--clean-shards 0,1,2 | --no-clean] [--work DIR] [--name efficacy]
 *   npm run bench:efficacy -- --render      # rewrite efficacy.md (and the README table) from the JSON
 *
 * Everything runs through the built CLI. `--work DIR` (default $TMPDIR/gssd-ladder) keeps the
 * subsets, poisoned data, encoders and models, and a later run reuses what is there, so rungs
 * can be run one invocation at a time, and `--modes default` re-runs only the default cleanses
 * (after a change to the defaults); results merge into bench/results/efficacy.json, each run
 * with its own date, commit and seconds (only the keys an invocation wrote replace the file's). The README's ladder table is generated from it
 * (between the `ladder:start` / `ladder:end` markers).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { arg } from './lib/args.js';
import { headCommit } from './lib/head-commit.js';
import { writePixelsEncoder, writeUntrainedEncoder } from './lib/ladder-encoders.js';
import { featuresKnn } from './lib/features-knn.js';
import { writeOracleSplit, writeSubset } from './lib/ladder-data.js';
import { robustNDScores } from '../src/detect/detect-targets.js';
import { detectionOptions } from '../src/detect/options.js';
import type { DetectionReport } from '../src/detect/detection-report.js';
import { renderLadder, type Ladder } from './lib/ladder-render.js';

const CLI = resolve('dist/src/bin.js');
const CIFAR = resolve(process.env.GSSD_CIFAR10_DIR ?? '../shared/data/cifar10');
/** Base name of the result files (`--name smoke` for a trial run that must not touch the README). */
const NAME = arg('name', 'efficacy');
const RESULTS = `bench/results/${NAME}.json`;
const README = NAME === 'efficacy' ? 'README.md' : '';
const RUNGS = ['pixels', 'untrained', 'simclr', 'transfer'] as const;
type Rung = (typeof RUNGS)[number];

const budget = {
  rows: Number(arg('rows', '10000')),
  testRows: Number(arg('test-rows', '2000')),
  width: Number(arg('width', '16')),
  pretrainEpochs: Number(arg('pretrain-epochs', '5')),
  transferEpochs: Number(arg('transfer-epochs', '20')),
  retrainEpochs: Number(arg('retrain-epochs', '10')),
  pool: 4,
  seed: 0,
};
const attacks = arg('attacks', 'badnets,blend,wanet,adap-patch,adap-blend').split(',');
const rungs = arg('rungs', RUNGS.join(',')).split(',') as Rung[];
const retrainAttacks = process.argv.includes('--no-retrain') ? [] : arg('retrain-attacks', 'badnets,blend,wanet').split(',');
/** Which cleanse's split the GSSD classifier trains on: `default` (robust detection) or `paper`. */
const retrainOn = arg('retrain-on', 'default');
if (retrainOn !== 'default' && retrainOn !== 'paper') usage(`--retrain-on takes default or paper, got ${retrainOn}`);
const retrainOnly = process.argv.includes('--retrain-only');
/** With the retraining: test the classifiers already in --work again (e.g. for fields added to `gssd test`), train none. */
const retest = process.argv.includes('--retest');
/** Which classifiers to (re)train: a subset of none, gssd, oracle (the others' results are kept). */
const retrainModels = arg('retrain-models', 'none,gssd,oracle').split(',');
const WORK = resolve(arg('work', join(tmpdir(), 'gssd-ladder')));
for (const r of rungs) if (!RUNGS.includes(r)) usage(`--rungs takes ${RUNGS.join(', ')}; got ${r}`);
const MODES = ['default', 'paper', 'knn'] as const;
type Mode = (typeof MODES)[number];
/** Which cleanses of a cell to (re)run; the cell's other runs are kept from the results file. */
const modes = arg('modes', MODES.join(',')).split(',') as Mode[];
for (const m of modes) if (!MODES.includes(m)) usage(`--modes takes ${MODES.join(', ')}; got ${m}`);
/** CIFAR-10 train shards whose first --rows rows are cleansed unpoisoned (no target), per rung: false alarms. */
const cleanShards = process.argv.includes('--no-clean') ? [] : arg('clean-shards', '0,1,2').split(',').map(Number);
for (const k of cleanShards) if (![0, 1, 2].includes(k)) usage(`--clean-shards takes 0, 1 or 2 (3 and 4 train the transfer encoder); got ${k}`);

function usage(message: string): never {
  console.error(`bench:efficacy: ${message}`);
  process.exit(2);
}

/** Runs `gssd <args> --log silent`; returns stdout parsed as JSON (pass --json) and the seconds. */
function gssd(args: string[]): { out: any; seconds: number } {
  const started = Date.now();
  const r = spawnSync(process.execPath, [CLI, ...args, '--log', 'silent'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`gssd ${args.join(' ')} exited ${r.status}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  let out: unknown = null;
  try {
    out = r.stdout.trim() ? JSON.parse(r.stdout) : null;
  } catch {
    out = r.stdout;
  }
  return { out, seconds: (Date.now() - started) / 1000 };
}

const PAPER = ['--target-detection', 'paper'];

const stamp = () => ({ date: new Date().toISOString(), commit: headCommit() });

/** The keys this invocation wrote, per section: only these replace what is on disk when saving. */
const touched = { encoders: new Set<string>(), cells: new Set<string>(), retrain: new Set<string>(), clean: new Set<string>() };
function put<S extends keyof typeof touched>(ladder: Ladder, section: S, key: string, value: NonNullable<Ladder[S]>[string]): void {
  const records = (ladder[section] ??= {}) as Record<string, unknown>;
  records[key] = value;
  touched[section].add(key);
}

async function load(): Promise<Ladder> {
  if (existsSync(RESULTS)) return JSON.parse(await readFile(RESULTS, 'utf8'));
  return { budget, encoders: {}, cells: {}, retrain: {} };
}

/**
 * Writes the results: what is on disk, with the keys this invocation wrote replaced (two
 * invocations may run at once on different rungs or attacks without losing each other's).
 */
async function save(ladder: Ladder): Promise<void> {
  await mkdir('bench/results', { recursive: true });
  if (existsSync(RESULTS)) {
    const disk: Ladder = JSON.parse(await readFile(RESULTS, 'utf8'));
    for (const section of Object.keys(touched) as (keyof typeof touched)[]) {
      const merged: Record<string, any> = { ...(disk[section] ?? {}) };
      for (const key of touched[section]) merged[key] = ladder[section]?.[key];
      (ladder as any)[section] = merged;
    }
  }
  await writeFile(RESULTS, JSON.stringify(ladder, null, 1));
  await renderLadder(ladder, `bench/results/${NAME}.md`, README);
}

/** The encoder of a rung (for simclr: of the attack), made when missing; its path for --encoder. */
async function encoderOf(rung: Rung, attack: string, ladder: Ladder): Promise<string> {
  const enc = join(WORK, 'enc');
  await mkdir(enc, { recursive: true });
  if (rung === 'pixels') {
    const file = join(enc, `pixels-pool${budget.pool}.onnx`);
    if (!existsSync(file)) await writePixelsEncoder(file, 32, budget.pool);
    return file;
  }
  if (rung === 'untrained') {
    const file = join(enc, `untrained-w${budget.width}-s${budget.seed}.onnx`);
    if (!existsSync(file)) await writeUntrainedEncoder(file, budget.width, budget.seed);
    return file;
  }
  if (rung === 'transfer') {
    const model = join(enc, `transfer-w${budget.width}-e${budget.transferEpochs}`);
    const file = `${model}.onnx`;
    if (!existsSync(file)) {
      let trainSeconds: number | null = null; // null: a finished model found in --work (trained by hand with the same command)
      if (!existsSync(join(model, 'model', 'manifest.json'))) {
        const shards = [3, 4].map((k) => join(CIFAR, `train-0000${k}-of-00005.parquet`));
        const resume = existsSync(join(model, 'checkpoint')) ? ['--resume'] : [];
        console.log(`transfer: gssd train on shards 3-4, width ${budget.width}, ${budget.transferEpochs} epochs`);
        trainSeconds = gssd(['train', ...shards, '--out', model, '--width', String(budget.width), '--epochs', String(budget.transferEpochs), '--finetune-epochs', '0', '--seed', String(budget.seed), ...resume, '--json']).seconds;
      }
      const test = gssd(['test', '--model', model, '--clean', join(WORK, 'data', 'test'), '--json']).out;
      gssd(['export-onnx', '--model', model, '--out', file, '--json']);
      put(ladder, 'encoders', 'transfer', { ...stamp(), trainSeconds, testAcc: test.acc, trainRows: 20000, epochs: budget.transferEpochs, width: budget.width });
    }
    return file;
  }
  const dir = join(WORK, attack, `simclr-w${budget.width}-e${budget.pretrainEpochs}`);
  if (!existsSync(join(dir, 'encoder', 'manifest.json'))) {
    const resume = existsSync(join(dir, 'checkpoint')) ? ['--resume'] : [];
    console.log(`${attack}: gssd pretrain, width ${budget.width}, ${budget.pretrainEpochs} epochs`);
    const t = gssd(['pretrain', join(WORK, attack, 'poisoned', 'data'), '--out', dir, '--width', String(budget.width), '--epochs', String(budget.pretrainEpochs), '--batch', '128', ...resume]);
    put(ladder, 'encoders', `simclr/${attack}`, { ...stamp(), pretrainSeconds: t.seconds, epochs: budget.pretrainEpochs, width: budget.width });
  }
  return join(dir, 'encoder');
}

/** The 20-NN accuracy of an encoder's features on the clean training subset, once per encoder. */
async function knnOf(key: string, encoder: string, ladder: Ladder): Promise<void> {
  const e = ladder.encoders[key] ?? {};
  if (e.knn20 !== undefined && e.path === encoder) return;
  const k = await featuresKnn(encoder, join(WORK, 'data', 'train'), 20);
  put(ladder, 'encoders', key, { ...e, path: encoder, knn20: k.accuracy, featureDim: k.dim, knnRows: k.rows });
  console.log(`${key}: 20-NN accuracy ${(100 * k.accuracy).toFixed(1)}% (${k.dim} features, ${k.rows} rows)`);
}

/** The robust ND indices of a report.json's classes on the linear scale (what gssd used before the log scale), for comparison. */
function linearNDIndices(detection: DetectionReport): (number | null)[] {
  if (detection.mode !== 'robust') return detection.classes.map(() => null);
  const dFlagged = new Set(detection.flagged.filter((f) => f.test === 'D').map((f) => f.label));
  const stats = detection.classes.map((c) => ({ label: c.label, statistic: c.ndTest.statistic, nOther: c.ndTest.nOther }));
  return robustNDScores(stats, detectionOptions({ ...detection.options, robustNDScale: 'linear' }), dFlagged).map((s) => s.index);
}

/** The target class's (label 0) outlier indices from a report.json. */
async function targetTests(run: string) {
  const report = JSON.parse(await readFile(join(run, 'report.json'), 'utf8'));
  const detection: DetectionReport | undefined = report.detection;
  const target = detection?.classes.find((c) => c.label === 0);
  return {
    ndIndex: target?.ndTest.index ?? null,
    ndIndexLinear: detection ? linearNDIndices(detection)[0] : null,
    dIndex: target?.dRobust?.index ?? null,
    ndStatistic: target?.ndTest.statistic ?? null,
    critical: target?.ndTest.critical ?? target?.dRobust?.critical ?? null,
  };
}

/**
 * A default cleanse of CIFAR-10 train shard `k`'s first rows, unpoisoned: what the rung flags
 * with no attack (every flag is a false alarm) and how close the largest index comes.
 */
async function cleanCheck(rung: Rung, encoder: string, k: number, ladder: Ladder): Promise<void> {
  const data = join(WORK, 'data', `clean-shard${k}`);
  if (!existsSync(data)) await writeSubset([join(CIFAR, `train-0000${k}-of-00005.parquet`)], budget.rows, data);
  const run = join(WORK, 'clean', `run-${rung}-shard${k}`);
  await rm(run, { recursive: true, force: true });
  const c = gssd(['cleanse', data, '--encoder', encoder, '--out', run, '--seed', '0', '--json']);
  const detection: DetectionReport = JSON.parse(await readFile(join(run, 'report.json'), 'utf8')).detection;
  await rm(run, { recursive: true, force: true });
  const max = (xs: (number | null | undefined)[]) => xs.reduce<number | null>((m, x) => (x == null ? m : m === null ? x : Math.max(m, x)), null);
  const result = {
    ...stamp(),
    seconds: c.seconds,
    flagged: detection.flagged,
    ndIndexMax: max(detection.classes.map((x) => x.ndTest.index)),
    ndIndexMaxLinear: max(linearNDIndices(detection)),
    dIndexMax: max(detection.classes.map((x) => x.dRobust?.index)),
    critical: max(detection.classes.map((x) => x.ndTest.critical ?? x.dRobust?.critical)),
  };
  put(ladder, 'clean', `${rung}/shard${k}`, result);
  console.log(`${rung} clean shard ${k}: flagged ${JSON.stringify(detection.flagged)}, largest ND index ${result.ndIndexMax?.toFixed(2)} (linear ${result.ndIndexMaxLinear?.toFixed(2)}), D ${result.dIndexMax?.toFixed(2)}, critical ${result.critical?.toFixed(2)}`);
  await save(ladder);
}

/** One cleanse + evaluate of an attack's poisoned rows with `encoder` and `flags`. */
async function cleanseAndEvaluate(attack: string, rung: Rung, name: string, encoder: string, flags: string[], keep = false) {
  const run = join(WORK, attack, `run-${rung}-${name}`);
  await rm(run, { recursive: true, force: true });
  const c = gssd(['cleanse', join(WORK, attack, 'poisoned', 'data'), '--encoder', encoder, '--out', run, '--seed', '0', '--json', ...flags]);
  const e = gssd(['evaluate', '--cleansed', run, '--truth', join(WORK, attack, 'poisoned', 'truth'), '--json']).out;
  const tests = name === 'knn' ? null : await targetTests(run);
  if (!keep) await rm(run, { recursive: true, force: true });
  const flagged = (c.out.flagged as { label: number }[]).map((f) => f.label);
  console.log(`${attack} ${rung} ${name}: flagged ${JSON.stringify(flagged)}, removal ${(100 * e.split.removalRecall).toFixed(1)}%, clean loss ${(100 * e.split.cleanLoss).toFixed(1)}%${e.separation ? `, AUROC ${e.separation.auroc.toFixed(3)}` : ''}`);
  return { ...stamp(), seconds: c.seconds, flagged, detection: e.detection, split: e.split, separation: e.separation, tests, verdict: c.out.verdict?.text ?? null };
}

async function ensureData(ladder: Ladder): Promise<void> {
  const data = join(WORK, 'data');
  if (!existsSync(join(data, 'train'))) {
    await writeSubset([0, 1, 2, 3, 4].map((k) => join(CIFAR, `train-0000${k}-of-00005.parquet`)), budget.rows, join(data, 'train'));
  }
  if (!existsSync(join(data, 'test'))) await writeSubset([join(CIFAR, 'test-00000-of-00001.parquet')], budget.testRows, join(data, 'test'));
  for (const attack of attacks) {
    const dir = join(WORK, attack);
    if (!existsSync(join(dir, 'poisoned', 'truth'))) {
      await rm(join(dir, 'poisoned'), { recursive: true, force: true });
      // Label-Consistent: PGD against the transfer rung's classifier (trained on rows the ladder never poisons)
      const lc = attack === 'lc' ? ['--lc-model', (await encoderOf('transfer', attack, ladder)).replace(/\.onnx$/, '')] : [];
      gssd(['poison', join(data, 'train'), '--attack', attack, '--target', '0', '--seed', '1', '--out', join(dir, 'poisoned'), ...lc, '--json']);
    }
    if (retrainAttacks.includes(attack) && !existsSync(join(dir, 'poisoned-test', 'data'))) {
      await rm(join(dir, 'poisoned-test'), { recursive: true, force: true });
      gssd(['poison', join(data, 'test'), '--attack', attack, '--target', '0', '--seed', '1', '--split', 'test', '--out', join(dir, 'poisoned-test'), '--json']);
    }
  }
}

/** No defence, GSSD's split and the oracle split, same classifier budget, on the transfer rung's run. */
async function retrain(attack: string, ladder: Ladder): Promise<void> {
  const dir = join(WORK, attack);
  const run = join(dir, `run-transfer-${retrainOn}`);
  if (!existsSync(join(run, 'report.json'))) {
    const encoder = await encoderOf('transfer', attack, ladder);
    await cleanseAndEvaluate(attack, 'transfer', retrainOn, encoder, retrainOn === 'paper' ? PAPER : [], true);
  }
  const oracle = join(dir, 'oracle');
  if (!existsSync(oracle)) await writeOracleSplit(join(dir, 'poisoned', 'data'), join(dir, 'poisoned', 'truth'), oracle);
  const common = ['--width', String(budget.width), '--epochs', String(budget.retrainEpochs), '--seed', '0', '--json'];
  const trainSets: Record<string, string[]> = {
    none: [join(dir, 'poisoned', 'data'), '--finetune-epochs', '0'],
    gssd: [join(run, 'clean'), '--finetune', join(run, 'poisoned')],
    oracle: [oracle, '--finetune-epochs', '0'],
  };
  const result: Record<string, unknown> = { ...ladder.retrain[attack], ...stamp(), epochs: budget.retrainEpochs, width: budget.width, gssdSplit: retrainOn };
  for (const [name, inputs] of Object.entries(trainSets)) {
    if (!retrainModels.includes(name)) continue;
    const model = join(dir, `model-${name}-e${budget.retrainEpochs}`);
    const before = result[name] as { trainSeconds?: number } | undefined;
    if (retest && (!existsSync(join(model, 'model')) || !before)) usage(`--retest: ${model} or its result is missing; train it first`);
    let trainSeconds = before?.trainSeconds ?? null;
    if (!retest) {
      await rm(model, { recursive: true, force: true });
      trainSeconds = gssd(['train', ...inputs, '--out', model, ...common]).seconds;
    }
    const test = gssd(['test', '--model', model, '--clean', join(WORK, 'data', 'test'), '--triggered', join(dir, 'poisoned-test', 'data'), '--json']).out;
    // ACC on the target class (label 0) and on the others: what the defence cost the class it had to cut into
    const own = (test.perClass as { label: number; rows: number; correct: number }[]).find((c) => c.label === 0);
    const targetAcc = own ? own.correct / own.rows : null;
    const otherAcc = own ? (test.correct - own.correct) / (test.cleanRows - own.rows) : null;
    result[name] = { acc: test.acc, asr: test.asr, targetAcc, otherAcc, triggeredRows: test.triggeredRows, cleanRows: test.cleanRows, trainSeconds };
    console.log(`${attack} retrain ${name}: ACC ${(100 * test.acc).toFixed(1)}% (class 0 ${(100 * (targetAcc ?? NaN)).toFixed(1)}%) ASR ${(100 * test.asr).toFixed(2)}% (${trainSeconds?.toFixed(0) ?? '?'} s)`);
    put(ladder, 'retrain', attack, result);
    await save(ladder);
  }
}

async function main(): Promise<void> {
  if (process.argv.includes('--render')) {
    await renderLadder(JSON.parse(await readFile(RESULTS, 'utf8')), `bench/results/${NAME}.md`, README);
    return;
  }
  if (!existsSync(join(CIFAR, 'train-00000-of-00005.parquet'))) {
    console.log(`[skip] CIFAR-10 not found at ${CIFAR}`);
    return;
  }
  await mkdir(WORK, { recursive: true });
  const ladder = await load();
  ladder.budget = budget;
  await ensureData(ladder);
  for (const rung of retrainOnly ? [] : rungs) {
    for (const attack of attacks) {
      const encoder = await encoderOf(rung, attack, ladder);
      await knnOf(rung === 'simclr' ? `simclr/${attack}` : rung, encoder, ladder);
      const keep = rung === 'transfer' && retrainAttacks.includes(attack);
      const key = `${rung}/${attack}`;
      const flags: Record<Mode, string[]> = { default: [], paper: PAPER, knn: ['--detector', 'knn'] };
      const cell: Record<string, any> = { ...ladder.cells[key] };
      for (const mode of modes) cell[mode] = await cleanseAndEvaluate(attack, rung, mode, encoder, flags[mode], keep && mode === retrainOn);
      for (const mode of MODES) if (!cell[mode]) usage(`${key} has no ${mode} run on disk: add it to --modes`);
      // the cleanses' own seconds (a cell's runs may come from different invocations)
      Object.assign(cell, stamp(), { seconds: MODES.reduce((sum, m) => sum + cell[m].seconds, 0) });
      put(ladder, 'cells', key, cell as Ladder['cells'][string]);
      await save(ladder);
    }
    // the simclr rung pretrains on each attack's rows: it has no encoder for unpoisoned data
    if (rung !== 'simclr') for (const k of cleanShards) await cleanCheck(rung, await encoderOf(rung, '', ladder), k, ladder);
  }
  if (rungs.includes('transfer')) for (const attack of retrainAttacks) if (attacks.includes(attack)) await retrain(attack, ladder);
}

main().catch((err) => {
  console.error(`bench:efficacy: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});

import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { RecordBatch, Vector } from 'apache-arrow';
import { readBatches } from '../src/io/read.js';
import { imageBytesOf, imageColumnOf } from '../src/io/columns.js';
import { CheckpointStore } from '../src/io/checkpoint.js';
import { RunDir } from '../src/io/run-dir.js';
import { freshRunDir } from '../src/io/fresh-run-dir.js';
import { decodeImage } from '../src/stages/decode.js';
import { cropFlipToArray } from '../src/stages/crop-flip.js';
import { shuffleBatches } from '../src/stages/shuffle-buffer.js';
import { stepLr } from '../src/models/classifier.js';
import { openClassifierEngine } from '../src/models/classifier-engine.js';
import type { ClassifierConfig } from '../src/models/onnx-classifier.js';
import type { OnnxProviderRequest } from '../src/models/onnx-session.js';
import type { TrainRuntimeRequest } from '../src/models/simclr-engine.js';
import { resnetLayout } from '../src/models/resnet-layout.js';
import { trainingEngine } from './training-engine.js';
import { initBackend, type BackendName } from '../src/models/backend.js';
import { InputError, UsageError, expectInteger } from '../src/errors.js';
import { Rng } from '../src/rng.js';
import { Progress } from '../src/progress.js';
import { silentLogger, type Logger } from '../src/log.js';
import { replaceDir } from '../src/replace-dir.js';
import { readOptions, type SourceSettings } from '../src/io/source-settings.js';

/** The label column `gssd cleanse` writes: the label to train with, null where none. */
export const GSSD_LABEL = 'gssd_label';

/** What a train run directory holds (the model, the checkpoints): see `freshRunDir`. */
const TRAIN_RUN_ENTRIES: ReadonlySet<string> = new Set(['checkpoint', 'model']);

/** Options of `gssd train` (docs/method.md, step 7; reference: 200 epochs, batch 128, SGD 0.1, fine-tune 2 epochs at 1e-4). */
export interface TrainOptions {
  /** Rows to train on, e.g. `RUN/clean` of a cleanse run. */
  inputs: string[];
  /** Rows to fine-tune on afterwards, e.g. `RUN/poisoned`: only those with a non-null `gssd_label`. */
  finetune?: string[];
  /** Run directory: `out/model` (the result) and `out/checkpoint`. */
  out: string;
  source: SourceSettings;
  width: number;
  epochs: number;
  batch: number;
  /** Base SGD learning rate, x0.1 at 50% and 75% of the epochs. */
  lr: number;
  finetuneEpochs: number;
  /** Constant SGD learning rate of the fine-tuning. */
  finetuneLr: number;
  seed: number;
  /** Continue the run in `out` from its checkpoint. */
  resume: boolean;
  /** Column holding the label to train with. Default `gssd_label` when the inputs have it, else the label column; fine-tuning: `gssd_label`. */
  labelColumn?: string;
  /** Images held by the shuffle buffer (bounded memory). Default 4096. */
  shuffleBuffer?: number;
  /** Steps between checkpoints (and one at every epoch end). Default 50. */
  checkpointSteps?: number;
  /** TensorFlow.js backend (tfjs runtime). Default `auto`. */
  backend?: BackendName;
  /** What trains the classifier: `auto` (onnx), `onnx` or `tfjs`; a resumed run keeps its own. */
  trainRuntime?: TrainRuntimeRequest;
  /** onnx runtime: `auto`, `cpu` or `cuda`. Default auto. */
  device?: OnnxProviderRequest;
  /** onnx runtime on the CPU: intra-op threads (default the CPU count; a resumed run keeps its count). */
  threads?: number;
  /** Tests: return after this many training steps of this call, as if killed (nothing saved beyond the last checkpoint). */
  stopAfterSteps?: number;
}

/** What `gssd train` did. */
export interface TrainSummary {
  /** Directory of the trained model (`out/model`), or null when stopped early. */
  model: string | null;
  backend: string;
  /** What trained it: `onnx-cpu (2 threads)`, `tfjs-wasm`, ... */
  trainRuntime: string;
  numClasses: number;
  /** Rows trained on per epoch / fine-tuned on per epoch (rows with a label and a decodable image). */
  trainRows: number;
  finetuneRows: number;
  /** Rows left out because they have no label to train with (null `gssd_label`). */
  skippedRows: number;
  /** Images that failed to decode at a step of this call (each epoch counts them again); left out of their batch. */
  undecodable: number;
  /** Steps taken by this call. */
  steps: number;
  /** Wall time of this call's training steps and images per second over them. */
  seconds: number;
  imagesPerSec: number;
  lastLoss: number | null;
  /** Training-mode accuracy over the last main-training epoch this call ran, or null. */
  trainAccuracy: number | null;
  stopped: boolean;
}

type Phase = 'train' | 'finetune';

interface TrainProgress {
  phase: Phase;
  epochsDone: number;
  stepsDone: number;
  /** Directory of the last saved classifier, or null before the first save. */
  savedDir: string | null;
  lastLoss: number | null;
}

interface Scan {
  numClasses: number;
  trainRows: number;
  finetuneRows: number;
  skippedRows: number;
}

type Settings = Omit<TrainOptions, 'resume' | 'backend' | 'stopAfterSteps' | 'out'> & { shuffleBuffer: number; checkpointSteps: number };

interface TrainRunState {
  settings: Settings;
  backend: string;
  /** The training runtime and CPU threads (absent in runs from before the onnx runtime: tfjs). */
  engine?: { trainRuntime: 'onnx' | 'tfjs'; threads: number };
  scan: Scan;
  progress: TrainProgress | null;
  summary: TrainSummary | null;
}

/** One training row in the shuffle buffer: its encoded image (decoded at step time) and label. */
interface Row {
  image: Uint8Array;
  label: number;
}

/**
 * Trains the final classifier (docs/method.md, step 7) into `out/model`: a ResNet-18 of `width` +
 * linear head, from scratch on the rows of `inputs` with their training label (`gssd_label`
 * of a cleanse output, else the label column), SGD lr `lr` x0.1 at 50% and 75% of `epochs`,
 * RandomCrop(pad 4) + flip; then `finetuneEpochs` epochs at constant `finetuneLr` on the rows
 * of `finetune` whose `gssd_label` is not null (the relabelled rows), momentum reset.
 * Streaming: each epoch reads the shards in a seeded order through a bounded shuffle buffer of
 * encoded images. Checkpoints (classifier + momentum in a versioned directory, then the state
 * JSON, atomically) every `checkpointSteps` steps and at epoch ends; `resume` replays the
 * epoch's stream to the saved step without training, so the result equals an uninterrupted run.
 *
 * @example
 *   const s = await train({ inputs: ['run/clean'], finetune: ['run/poisoned'], out: 'model-run', source, width: 16,
 *     epochs: 200, batch: 128, lr: 0.1, finetuneEpochs: 2, finetuneLr: 1e-4, seed: 0, resume: false }, log);
 *   console.log(s.model, s.imagesPerSec);
 */
export async function train(o: TrainOptions, log: Logger = silentLogger): Promise<TrainSummary> {
  const settings = settingsOf(o);
  const backend = await initBackend(o.backend ?? 'auto');
  log.info('backend', { backend });
  const dir = await RunDir.open(o.out, 'train', log);
  try {
    return await trainLocked(o, settings, backend, dir, log);
  } finally {
    await dir.close();
  }
}

/** `train` once this process holds the lock of the run directory. */
async function trainLocked(o: TrainOptions, settings: Settings, backend: string, dir: RunDir, log: Logger): Promise<TrainSummary> {
  const store = new CheckpointStore<TrainRunState>(o.out);
  let state = o.resume ? await store.load() : null;
  if (state && JSON.stringify(state.settings) !== JSON.stringify(settings)) {
    throw new UsageError(`${o.out}: the run there was started with other options; resume with the same options`);
  }
  if (!state) {
    await freshRunDir(o.out, { command: 'train', entries: TRAIN_RUN_ENTRIES, resume: o.resume });
    await dir.adopt();
    const scan = await scanRows(settings, dir.tempDir);
    if (scan.trainRows < 2) throw new InputError(`${o.inputs[0]}${o.inputs.length > 1 ? ' ...' : ''}: fewer than 2 rows with a label to train with`);
    log.info('train data', { ...scan });
    state = { settings, backend, engine: trainingEngine(undefined, o, o.out, log), scan, progress: null, summary: null };
    await store.save(state);
  }
  await dir.adopt();
  const engine = trainingEngine(state.engine ?? {}, o, o.out);
  if (state.summary) {
    log.info('train already done', { model: state.summary.model });
    return state.summary;
  }
  const s = state;
  const modelDir = join(o.out, 'model');
  const result = await runTraining(settings, s.scan, s.progress, { ...engine, device: o.device ?? 'auto' }, {
    checkpointDir: (phase, epoch, step) => store.path(`classifier-${phase}-e${epoch}-s${step}`),
    commit: async (p) => {
      s.progress = p;
      await store.save(s);
    },
    modelDir,
    tempDir: dir.tempDir,
    stopAfterSteps: o.stopAfterSteps,
    log,
  });
  const summary: TrainSummary = { model: result.stopped ? null : modelDir, backend, ...s.scan, ...result };
  if (!result.stopped) {
    s.summary = summary;
    await store.save(s);
    log.info('model saved', { model: modelDir });
  }
  return summary;
}

/** The options that decide the result (what a resume must repeat), defaults filled in. */
function settingsOf(o: TrainOptions): Settings {
  const s: Settings = {
    inputs: o.inputs,
    finetune: o.finetune ?? [],
    source: o.source,
    width: o.width,
    epochs: o.epochs,
    batch: o.batch,
    lr: o.lr,
    finetuneEpochs: o.finetuneEpochs,
    finetuneLr: o.finetuneLr,
    seed: o.seed,
    labelColumn: o.labelColumn ?? undefined,
    shuffleBuffer: o.shuffleBuffer ?? 4096,
    checkpointSteps: o.checkpointSteps ?? 50,
  };
  expectInteger('width', s.width, 1);
  expectInteger('epochs', s.epochs, 1);
  expectInteger('batch', s.batch, 2);
  expectInteger('finetuneEpochs', s.finetuneEpochs, 0);
  expectInteger('shuffleBuffer', s.shuffleBuffer, 2);
  expectInteger('checkpointSteps', s.checkpointSteps, 1);
  if (!(s.lr > 0) || !(s.finetuneLr > 0)) throw new UsageError(`Expected \`lr\` and \`finetuneLr\` to be numbers above 0, got \`${s.lr}\` and \`${s.finetuneLr}\``);
  if (s.inputs.length === 0) throw new UsageError('Expected at least one input to train on');
  return s;
}


/** The column of `batch` holding the label to train with in `phase`. */
function labelVector(batch: RecordBatch, phase: Phase, s: Settings, input: string): Vector {
  const name = s.labelColumn ?? (phase === 'finetune' || batch.getChild(GSSD_LABEL) ? GSSD_LABEL : s.source.columns.label);
  const v = batch.getChild(name);
  if (!v) {
    const why = phase === 'finetune' && !s.labelColumn ? ': fine-tuning uses the relabelled rows of a gssd cleanse output (e.g. RUN/poisoned)' : '';
    throw new InputError(`${input}: no label column "${name}"${why}`);
  }
  return v;
}

/** The label of row i, or null when it has none (or a value out of range: an InputError). */
function labelAt(v: Vector, i: number, numClasses: number | undefined, input: string): number | null {
  if (!v.isValid(i)) return null;
  const k = Number(v.get(i));
  if (!Number.isInteger(k) || k < 0 || (numClasses !== undefined && k >= numClasses)) {
    throw new InputError(`${input}: label ${String(v.get(i))} is outside ${numClasses !== undefined ? `[0, ${numClasses})` : 'the non-negative integers'}`);
  }
  return k;
}

/** One pass over the labels: rows to train on and the number of classes. */
async function scanRows(s: Settings, tempDir: string): Promise<Scan> {
  let maxLabel = -1;
  const count = async (inputs: string[], phase: Phase): Promise<[number, number]> => {
    let used = 0;
    let skipped = 0;
    if (inputs.length === 0) return [0, 0];
    for await (const batch of readBatches(inputs, { ...readOptions(s.source), tempDir })) {
      const labels = labelVector(batch, phase, s, inputs[0]);
      for (let i = 0; i < batch.numRows; i++) {
        const k = labelAt(labels, i, s.source.numClasses, inputs[0]);
        if (k === null) {
          skipped++;
          continue;
        }
        used++;
        if (k > maxLabel) maxLabel = k;
      }
    }
    return [used, skipped];
  };
  const [trainRows, trainSkipped] = await count(s.inputs, 'train');
  const [finetuneRows, finetuneSkipped] = await count(s.finetune ?? [], 'finetune');
  return { numClasses: s.source.numClasses ?? Math.max(2, maxLabel + 1), trainRows, finetuneRows, skippedRows: trainSkipped + finetuneSkipped };
}

/** The labelled rows of the inputs in order, each with a copy of its encoded image. */
async function* rowStream(inputs: string[], phase: Phase, s: Settings, numClasses: number, tempDir: string): AsyncGenerator<Row> {
  for await (const batch of readBatches(inputs, { ...readOptions(s.source), tempDir })) {
    const labels = labelVector(batch, phase, s, inputs[0]);
    // the configured column, or (default `image` absent) the one image-typed column, as decode finds it
    const images = batch.getChild(imageColumnOf(batch.schema.fields, s.source.columns.image) ?? s.source.columns.image)!;
    for (let i = 0; i < batch.numRows; i++) {
      const label = labelAt(labels, i, numClasses, inputs[0]);
      if (label === null) continue;
      const bytes = imageBytesOf(images, i);
      yield { image: bytes ? bytes.slice() : new Uint8Array(0), label };
    }
  }
}

interface RunIo {
  checkpointDir: (phase: Phase, epoch: number, step: number) => string;
  commit: (p: TrainProgress) => Promise<void>;
  modelDir: string;
  /** The run's temp directory (downloads of URLs without Range support). */
  tempDir: string;
  stopAfterSteps?: number;
  log: Logger;
}

type RunResult = Pick<TrainSummary, 'steps' | 'seconds' | 'imagesPerSec' | 'lastLoss' | 'trainAccuracy' | 'stopped' | 'undecodable' | 'trainRuntime'>;

async function runTraining(
  s: Settings,
  scan: Scan,
  resumeFrom: TrainProgress | null,
  where: { trainRuntime: 'onnx' | 'tfjs'; threads: number; device: OnnxProviderRequest },
  io: RunIo,
): Promise<RunResult> {
  const size = s.source.imageSize;
  const progress: TrainProgress = resumeFrom ? { ...resumeFrom } : { phase: 'train', epochsDone: 0, stepsDone: 0, savedDir: null, lastLoss: null };
  // the saved classifier as this run directory names it (a moved or copied run directory uses its own copy)
  if (progress.savedDir) progress.savedDir = io.checkpointDir(progress.phase, progress.epochsDone, progress.stepsDone);
  const config: ClassifierConfig = { numClasses: scan.numClasses, width: s.width, imageSize: size, stem: resnetLayout({ imageSize: size }).stem, seed: s.seed, momentum: 0.9, weightDecay: 5e-4, decay: 'all' };
  const clf = await openClassifierEngine(config, progress.savedDir, { runtime: where.trainRuntime, device: where.device, threads: where.threads });
  const finetuneEpochs = scan.finetuneRows >= 2 ? s.finetuneEpochs : 0;
  if (s.finetune?.length && s.finetuneEpochs > 0 && finetuneEpochs === 0) io.log.warn('no fine-tuning: fewer than 2 rows with a gssd_label in the fine-tuning inputs', { rows: scan.finetuneRows });
  const total = scan.trainRows * s.epochs + scan.finetuneRows * finetuneEpochs;
  const done = (progress.phase === 'train' ? 0 : scan.trainRows * s.epochs) + (progress.phase === 'train' ? scan.trainRows : scan.finetuneRows) * progress.epochsDone;
  const bar = new Progress(io.log, 'train', total);
  bar.skip(done);
  const counters: RunCounters = { steps: 0, trained: 0, seconds: 0, undecodable: 0 };
  let trainAccuracy: number | null = null;
  const save = async (phase: Phase, epoch: number, step: number) => {
    const dir = io.checkpointDir(phase, epoch, step);
    await replaceDir(dir, (tmp) => clf.save(tmp));
    const previous = progress.savedDir;
    Object.assign(progress, { phase, epochsDone: epoch, stepsDone: step, savedDir: dir });
    await io.commit({ ...progress });
    if (previous && previous !== dir) await rm(previous, { recursive: true, force: true });
  };
  const result = (stopped: boolean): RunResult => ({
    steps: counters.steps,
    seconds: Math.round(counters.seconds * 100) / 100,
    imagesPerSec: Math.round((10 * counters.trained) / Math.max(counters.seconds, 1e-3)) / 10,
    lastLoss: progress.lastLoss,
    trainAccuracy,
    stopped,
    undecodable: counters.undecodable,
    trainRuntime: clf.describe(),
  });
  try {
    const phases: [Phase, number, string[]][] = [
      ['train', s.epochs, s.inputs],
      ['finetune', finetuneEpochs, s.finetune ?? []],
    ];
    for (const [phase, epochs, inputs] of phases) {
      if (phase === 'train' && progress.phase === 'finetune') continue;
      const resuming = progress.phase === phase;
      if (phase === 'finetune' && !resuming) clf.resetMomentum();
      for (let epoch = resuming ? progress.epochsDone : 0; epoch < epochs; epoch++) {
        const lr = phase === 'train' ? stepLr(epoch, epochs, s.lr) : s.finetuneLr;
        const skipTo = resuming && epoch === progress.epochsDone ? progress.stepsDone : 0;
        const e = await trainEpoch({ s, scan, io, clf, bar, counters, progress, save }, phase, epoch, inputs, lr, skipTo);
        if (e.stopped) return result(true);
        if (phase === 'train' && e.seen > 0) trainAccuracy = e.correct / e.seen;
        io.log.info(`${phase} epoch`, {
          epoch: epoch + 1,
          of: epochs,
          lr,
          meanLoss: e.seen ? Number((e.losses / e.seen).toFixed(4)) : null,
          accuracy: e.seen ? Number((e.correct / e.seen).toFixed(4)) : null,
        });
        await save(phase, epoch + 1, 0);
      }
    }
    await replaceDir(io.modelDir, (tmp) => clf.save(tmp, { numClasses: scan.numClasses, trainRows: scan.trainRows, finetuneRows: scan.finetuneRows, epochs: s.epochs, finetuneEpochs }));
    bar.done({ lastLoss: progress.lastLoss });
    return result(false);
  } finally {
    await clf.close();
  }
}

/** What a training run counts across its epochs (steps run this process, images trained, seconds in steps, undecodable images). */
interface RunCounters {
  steps: number;
  trained: number;
  seconds: number;
  undecodable: number;
}

/** What one epoch needs from its run. */
interface EpochRun {
  s: Settings;
  scan: Scan;
  io: RunIo;
  clf: Awaited<ReturnType<typeof openClassifierEngine>>;
  bar: Progress;
  counters: RunCounters;
  progress: TrainProgress;
  save: (phase: Phase, epoch: number, step: number) => Promise<void>;
}

/**
 * One epoch of `phase` over `inputs` in its seeded shuffled order: steps before `skipTo` are
 * skipped (a resume), a checkpoint every `checkpointSteps` steps. Returns the epoch's summed
 * loss, rows and correct predictions, or `stopped` when `io.stopAfterSteps` is reached.
 */
async function trainEpoch(run: EpochRun, phase: Phase, epoch: number, inputs: string[], lr: number, skipTo: number): Promise<{ losses: number; seen: number; correct: number; stopped: boolean }> {
  const { s, scan, io, clf, bar, counters, progress } = run;
  const size = s.source.imageSize;
  const rng = new Rng(`${s.seed}:${phase}:${epoch}`);
  const order = rng.shuffle([...inputs]);
  let step = 0;
  let losses = 0;
  let seen = 0;
  let correct = 0;
  for await (const rows of shuffleBatches(rowStream(order, phase, s, scan.numClasses, io.tempDir), s.batch, s.shuffleBuffer, rng, { minLast: 2 })) {
    if (step < skipTo) {
      bar.skip(rows.length);
      step++;
      continue;
    }
    const t0 = performance.now();
    const { pixels, labels } = decodeRows(rows, size, s.source.maxImagePixels, counters);
    if (labels.length >= 2) {
      const x = cropFlipToArray(pixels, labels.length, size, new Rng(`${s.seed}:crop:${phase}:${epoch}:${step}`));
      const r = await clf.step(x, labels, lr);
      progress.lastLoss = r.loss;
      losses += r.loss * labels.length;
      correct += r.correct;
      seen += labels.length;
      counters.trained += labels.length;
    }
    counters.seconds += (performance.now() - t0) / 1000;
    step++;
    counters.steps++;
    bar.add(rows.length);
    if (io.stopAfterSteps !== undefined && counters.steps >= io.stopAfterSteps) return { losses, seen, correct, stopped: true };
    if (step % s.checkpointSteps === 0) await run.save(phase, epoch, step);
  }
  return { losses, seen, correct, stopped: false };
}

/** The images of a batch decoded to size x size RGB, packed; undecodable ones are left out and counted. */
function decodeRows(rows: Row[], size: number, maxPixels: number | undefined, counters: RunCounters): { pixels: Uint8Array; labels: number[] } {
  const per = size * size * 3;
  const pixels = new Uint8Array(rows.length * per);
  const labels: number[] = [];
  for (const row of rows) {
    try {
      pixels.set(decodeImage(row.image, size, maxPixels), labels.length * per);
      labels.push(row.label);
    } catch {
      counters.undecodable++;
    }
  }
  return { pixels: pixels.subarray(0, labels.length * per), labels };
}

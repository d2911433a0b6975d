import type { TrainMemory } from '../src/models/onnx-simclr-graph.js';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../src/io/atomic-file.js';
import { MANIFEST, readManifest } from '../src/models/save.js';
import * as tf from '@tensorflow/tfjs-core';
import { readBatches } from '../src/io/read.js';
import { decode, PIXELS_COLUMN } from '../src/stages/decode.js';
import { ViewAugmenter } from '../src/stages/view-augmenter.js';
import { shuffleBatches } from '../src/stages/shuffle-buffer.js';
import { availableParallelism } from 'node:os';
import { resnetLayout } from '../src/models/resnet-layout.js';
import { openSimclrEngine, type SimclrEngine } from '../src/models/simclr-engine.js';
import type { OnnxProviderRequest } from '../src/models/onnx-session.js';
import { Rng } from '../src/rng.js';
import { Progress } from '../src/progress.js';
import { silentLogger, type Logger } from '../src/log.js';
import { replaceDir } from '../src/replace-dir.js';
import { readOptions, type SourceSettings } from '../src/io/source-settings.js';

/** Settings of SimCLR pretraining (docs/method.md, step 1; reference: 100 epochs, batch 256, Adam 3e-4). */
export interface PretrainSettings {
  inputs: string[];
  source: SourceSettings;
  width: number;
  epochs: number;
  batch: number;
  lr: number;
  seed: number;
  /** Images held by the shuffle buffer (bounded memory). */
  shuffleBuffer: number;
  /** Steps between checkpoints. */
  checkpointSteps: number;
  /**
   * The training runtime: `onnx` (onnxruntime, see `simclr-engine.ts`) or `tfjs`. Runs saved
   * before the onnx runtime existed have none: tfjs.
   */
  trainRuntime?: 'onnx' | 'tfjs';
  /** onnx: `auto`, `cpu` or `cuda` (default auto). */
  device?: OnnxProviderRequest;
  /** onnx: intra-op threads on the CPU; the results depend on it (default: the CPU count). */
  threads?: number;
  /**
   * onnx: `low` trades time for memory (`TrainMemory`: one view at a time in separate
   * onnxruntime runs, checkpointed blocks); absent is `fast`. The results differ in the last
   * bits between the two.
   */
  memory?: TrainMemory;
  /**
   * tfjs on the single-threaded backends (wasm, cpu): shards of every SimCLR batch, computed on
   * min(shards, cores) worker threads; BatchNorm statistics are per shard, so the result
   * depends on it (not on the cores). Default 2. Unused on the `tensorflow` backend.
   */
  simclrShards?: number;
  /** Total rows of the inputs, for progress. */
  totalRows?: number;
  /** Where a URL without Range support is downloaded to (a run's DIR/tmp); not a setting of the result. */
  tempDir?: string;
}

/** Where pretraining is: what its checkpoint records. */
export interface PretrainProgress {
  epochsDone: number;
  stepsDone: number;
  /** Directory of the last saved trainer (encoder + head + Adam), or null before the first save. */
  savedDir: string | null;
  lastLoss: number | null;
}

/**
 * SimCLR pretraining streamed over the inputs: each epoch reads the shards in a seeded order
 * through a bounded shuffle buffer, makes two augmented views per image (seeded per step, on
 * a worker thread, one batch ahead of the step) and takes an Adam step on NT-Xent on the
 * training runtime (`openSimclrEngine`). Every `checkpointSteps` steps and at each epoch end
 * the trainer is saved to a new directory from `checkpointDir(epoch, step)` and
 * `commit(progress)` is called; a resume replays the epoch's stream to the saved step without
 * training, so it continues exactly. The trained encoder is saved to `encoderDir`.
 *
 * @example
 *   const net = await pretrainEncoder(settings, { encoderDir: 'enc', checkpointDir: (e, s) => `ck/simclr-${e}-${s}`, commit: save });
 */
export async function pretrainEncoder(
  s: PretrainSettings,
  io: {
    encoderDir: string;
    checkpointDir: (epoch: number, step: number) => string;
    commit: (p: PretrainProgress) => Promise<void>;
    resumeFrom?: PretrainProgress | null;
    /** Stops pretraining before the next step; the last commit stays resumable. */
    signal?: AbortSignal;
  },
  log: Logger = silentLogger,
): Promise<void> {
  const size = s.source.imageSize;
  const progressState: PretrainProgress = io.resumeFrom ? { ...io.resumeFrom } : { epochsDone: 0, stepsDone: 0, savedDir: null, lastLoss: null };
  // the saved checkpoint as this run directory names it, not by the path recorded in the state:
  // a run directory moved or copied elsewhere resumes from (and later deletes) its own copy
  if (progressState.savedDir) progressState.savedDir = io.checkpointDir(progressState.epochsDone, progressState.stepsDone);
  const runtime = s.trainRuntime ?? 'tfjs';
  const shards = s.simclrShards ?? 2;
  const backend = tf.getBackend();
  if (runtime === 'tfjs' && (backend === 'wasm' || backend === 'cpu') && s.batch < shards) throw new Error(`A SimCLR batch of ${s.batch} cannot be split into ${shards} shards`);
  const config = { encoder: { width: s.width, imageSize: size, stem: resnetLayout({ imageSize: size }).stem, seed: s.seed }, simclr: { projDim: 128, temperature: 0.5, lr: s.lr, seed: s.seed + 1 } };
  const engine = await openSimclrEngine(config, progressState.savedDir, { runtime, device: s.device ?? 'auto', threads: s.threads ?? availableParallelism(), shards, memory: s.memory });
  try {
    await train(s, engine, progressState, io, log);
    await replaceDir(io.encoderDir, async (dir) => {
      await engine.saveEncoder(dir);
      await recordBudget(dir, { trainedBy: 'simclr', epochs: s.epochs, width: s.width, batch: s.batch, lr: s.lr, rows: s.totalRows ?? null });
    });
  } finally {
    await engine.close();
  }
}

/**
 * Records how an encoder was trained in its manifest's `extra.gssdBudget`, so that a cleanse
 * given it as `--encoder` can say whether it is below the budget the bench found reliable.
 */
async function recordBudget(dir: string, budget: Record<string, unknown>): Promise<void> {
  const m = await readManifest(dir);
  const extra = m.extra && typeof m.extra === 'object' ? m.extra : {};
  await writeFileAtomic(join(dir, MANIFEST), JSON.stringify({ ...m, extra: { ...extra, gssdBudget: budget } }));
}

/** The epochs of `pretrainEncoder` on `engine`. */
async function train(
  s: PretrainSettings,
  engine: SimclrEngine,
  progressState: PretrainProgress,
  io: { checkpointDir: (epoch: number, step: number) => string; commit: (p: PretrainProgress) => Promise<void>; signal?: AbortSignal },
  log: Logger,
): Promise<void> {
  const size = s.source.imageSize;
  const bar = new Progress(log, 'pretrain', s.totalRows ? s.totalRows * s.epochs : undefined);
  bar.skip((s.totalRows ?? 0) * progressState.epochsDone);
  const save = async (epoch: number, step: number) => {
    const dir = io.checkpointDir(epoch, step);
    await replaceDir(dir, (tmp) => engine.save(tmp));
    const previous = progressState.savedDir;
    progressState.epochsDone = epoch;
    progressState.stepsDone = step;
    progressState.savedDir = dir;
    await io.commit({ ...progressState });
    if (previous && previous !== dir) await rm(previous, { recursive: true, force: true });
  };
  const views = new ViewAugmenter();
  let started = false;
  try {
    for (let epoch = progressState.epochsDone; epoch < s.epochs; epoch++) {
      const rng = new Rng(`${s.seed}:pretrain:${epoch}`);
      const order = rng.shuffle([...s.inputs]);
      let losses = 0;
      let lossCount = 0;
      const minLast = Math.max(2, s.trainRuntime === 'onnx' ? 2 : (s.simclrShards ?? 2));
      const resumeAt = epoch === progressState.epochsDone ? progressState.stepsDone : 0;
      // the views of step k + 1 are made on the worker while step k runs
      let pending: { step: number; n: number; views: Promise<Float32Array> } | undefined;
      let step = 0;
      const request = (images: Uint8Array[]) => {
        const n = images.length;
        const packed = new Uint8Array(n * size * size * 3);
        images.forEach((px, i) => packed.set(px, i * size * size * 3));
        return { step, n, views: views.request(packed, n, size, `${s.seed}:augment:${epoch}:${step}`) };
      };
      const take = async () => {
        if (!pending) return;
        const { step: at, n, views: ready } = pending;
        pending = undefined;
        return { at, n, both: await ready };
      };
      const run = async (job: { at: number; n: number; both: Float32Array }) => {
        io.signal?.throwIfAborted();
        const loss = await engine.step(job.both, job.n);
        if (!started) {
          started = true;
          log.info('pretrain runtime', { runtime: engine.describe() });
        }
        progressState.lastLoss = loss;
        losses += loss;
        lossCount++;
        bar.add(job.n);
        if ((job.at + 1) % s.checkpointSteps === 0) await save(epoch, job.at + 1);
      };
      for await (const images of shuffleBatches(pixelStream(order, s, io.signal), s.batch, s.shuffleBuffer, rng, { minLast })) {
        if (step < resumeAt) {
          bar.skip(images.length);
          step++;
          continue;
        }
        const job = await take();
        pending = request(images);
        step++;
        if (job) await run(job);
      }
      const last = await take();
      if (last) await run(last);
      log.info('pretrain epoch', { epoch: epoch + 1, of: s.epochs, meanLoss: lossCount ? Number((losses / lossCount).toFixed(4)) : null });
      await save(epoch + 1, 0);
    }
  } finally {
    await views.close();
  }
  bar.done({ lastLoss: progressState.lastLoss });
}

/** The decoded images of the inputs in order (undecodable rows are skipped here: pretraining only). */
async function* pixelStream(inputs: string[], s: PretrainSettings, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  const batches = decode(
    readBatches(inputs, { ...readOptions(s.source), numClasses: undefined, signal, tempDir: s.tempDir }),
    { columns: s.source.columns, imageSize: s.source.imageSize, maxImagePixels: s.source.maxImagePixels },
  );
  for await (const batch of batches) {
    const px = batch.getChild(PIXELS_COLUMN)!;
    for (let i = 0; i < batch.numRows; i++) {
      const v = px.get(i) as Uint8Array | null;
      if (v) yield v.slice();
    }
  }
}

import { rename, rm } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs-core';
import { readBatches } from '../src/io/read.js';
import { decode, PIXELS_COLUMN } from '../src/stages/decode.js';
import { augment } from '../src/stages/augment.js';
import { shuffleBatches } from '../src/stages/shuffle-buffer.js';
import { ResNet } from '../src/models/resnet.js';
import { SimclrTrainer } from '../src/models/simclr.js';
import { ParallelSimclr } from '../src/models/simclr-parallel.js';
import { loadSimclr, saveResNet, saveSimclr } from '../src/models/save.js';
import { Rng } from '../src/rng.js';
import { Progress } from '../src/progress.js';
import { silentLogger, type Logger } from '../src/log.js';
import { readOptions, type SourceSettings } from '../src/cli/source-options.js';

/** Settings of SimCLR pretraining (METHOD.md step 1; reference: 100 epochs, batch 256, Adam 3e-4). */
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
   * Shards of every SimCLR batch on the single-threaded backends (wasm, cpu), computed on
   * min(shards, cores) worker threads; BatchNorm statistics are per shard, so the result
   * depends on it (not on the cores). Default 2. Unused on the `tensorflow` backend.
   */
  simclrShards?: number;
  /** Total rows of the inputs, for progress. */
  totalRows?: number;
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
 * through a bounded shuffle buffer, makes two augmented views per image (seeded per step) and
 * takes an Adam step on NT-Xent, data-parallel on worker threads (`ParallelSimclr`, S =
 * `simclrShards`) on the wasm and cpu backends, on the main thread on `tensorflow`. Every
 * `checkpointSteps` steps and at each epoch end the
 * trainer is saved to a new directory from `checkpointDir(epoch, step)` and `commit(progress)`
 * is called; a resume replays the epoch's stream to the saved step without training, so it
 * continues exactly. The trained encoder is saved to `encoderDir`; every tensor is released.
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
  },
  log: Logger = silentLogger,
): Promise<void> {
  const size = s.source.imageSize;
  const progressState: PretrainProgress = io.resumeFrom ?? { epochsDone: 0, stepsDone: 0, savedDir: null, lastLoss: null };
  const trainer = progressState.savedDir
    ? await loadSimclr(progressState.savedDir)
    : new SimclrTrainer(new ResNet({ width: s.width, imageSize: size, seed: s.seed }), { lr: s.lr, seed: s.seed + 1 });
  const backend = tf.getBackend();
  const shards = s.simclrShards ?? 2;
  if ((backend === 'wasm' || backend === 'cpu') && s.batch < shards) throw new Error(`A SimCLR batch of ${s.batch} cannot be split into ${shards} shards`);
  const parallel = backend === 'wasm' || backend === 'cpu' ? await ParallelSimclr.create(trainer, { shards, backend }) : null;
  if (parallel) log.info('pretrain data-parallel', { shards, threads: parallel.threads });
  try {
    await train(s, trainer, parallel, progressState, io, log);
  } finally {
    await parallel?.close();
  }
  await rm(`${io.encoderDir}.tmp`, { recursive: true, force: true });
  await saveResNet(trainer.encoder, `${io.encoderDir}.tmp`);
  await rm(io.encoderDir, { recursive: true, force: true });
  await rename(`${io.encoderDir}.tmp`, io.encoderDir);
  trainer.dispose();
  trainer.encoder.dispose();
}

/** The epochs of `pretrainEncoder`, with `parallel` taking the steps when given. */
async function train(
  s: PretrainSettings,
  trainer: SimclrTrainer,
  parallel: ParallelSimclr | null,
  progressState: PretrainProgress,
  io: { checkpointDir: (epoch: number, step: number) => string; commit: (p: PretrainProgress) => Promise<void> },
  log: Logger,
): Promise<void> {
  const size = s.source.imageSize;
  const bar = new Progress(log, 'pretrain', s.totalRows ? s.totalRows * s.epochs : undefined);
  bar.skip((s.totalRows ?? 0) * progressState.epochsDone);
  const save = async (epoch: number, step: number) => {
    const dir = io.checkpointDir(epoch, step);
    await rm(`${dir}.tmp`, { recursive: true, force: true });
    await saveSimclr(trainer, `${dir}.tmp`);
    await rm(dir, { recursive: true, force: true });
    await rename(`${dir}.tmp`, dir);
    const previous = progressState.savedDir;
    progressState.epochsDone = epoch;
    progressState.stepsDone = step;
    progressState.savedDir = dir;
    await io.commit({ ...progressState });
    if (previous && previous !== dir) await rm(previous, { recursive: true, force: true });
  };
  for (let epoch = progressState.epochsDone; epoch < s.epochs; epoch++) {
    const rng = new Rng(`${s.seed}:pretrain:${epoch}`);
    const order = rng.shuffle([...s.inputs]);
    let step = 0;
    let losses = 0;
    let lossCount = 0;
    const minLast = Math.max(2, parallel?.shards ?? 1);
    for await (const images of shuffleBatches(pixelStream(order, s), s.batch, s.shuffleBuffer, rng, { minLast })) {
      if (epoch === progressState.epochsDone && step < progressState.stepsDone) {
        bar.skip(images.length);
        step++;
        continue;
      }
      const n = images.length;
      const packed = new Uint8Array(n * size * size * 3);
      images.forEach((px, i) => packed.set(px, i * size * size * 3));
      const aug = new Rng(`${s.seed}:augment:${epoch}:${step}`);
      const v1 = augment(packed, n, size, aug);
      const v2 = augment(packed, n, size, aug);
      const loss = parallel ? await parallel.step(v1, v2) : trainer.step(v1, v2);
      tf.dispose([v1, v2]);
      progressState.lastLoss = loss;
      losses += loss;
      lossCount++;
      step++;
      bar.add(n);
      if (step % s.checkpointSteps === 0) await save(epoch, step);
    }
    log.info('pretrain epoch', { epoch: epoch + 1, of: s.epochs, meanLoss: lossCount ? Number((losses / lossCount).toFixed(4)) : null });
    await save(epoch + 1, 0);
  }
  bar.done({ lastLoss: progressState.lastLoss });
}

/** The decoded images of the inputs in order (undecodable rows are skipped here: pretraining only). */
async function* pixelStream(inputs: string[], s: PretrainSettings): AsyncGenerator<Uint8Array> {
  const batches = decode(
    readBatches(inputs, { ...readOptions(s.source), numClasses: undefined }),
    { columns: s.source.columns, imageSize: s.source.imageSize },
  );
  for await (const batch of batches) {
    const px = batch.getChild(PIXELS_COLUMN)!;
    for (let i = 0; i < batch.numRows; i++) {
      const v = px.get(i) as Uint8Array | null;
      if (v) yield v.slice();
    }
  }
}

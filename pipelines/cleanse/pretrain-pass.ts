import { UsageError } from '../../src/errors.js';
import { availableParallelism } from 'node:os';
import { loadResNet } from '../../src/models/save.js';
import { EmbedPool } from '../../src/models/embed-pool.js';
import type { ImageEncoder } from '../../src/stages/embed.js';
import { pretrainEncoder } from '../pretrain.js';
import type { RunContext } from './context.js';

/**
 * Pass 1 (optional): SimCLR pretraining of an encoder on the run's own inputs, when no
 * `--encoder` was given. Checkpointed by steps inside DIR/checkpoint; the trained encoder
 * is saved to DIR/checkpoint/encoder.
 */
export async function pretrainPass(ctx: RunContext): Promise<void> {
  const { options, state } = ctx;
  if (state.encoderDir) return;
  const encoderDir = ctx.checkpoint('encoder');
  await pretrainEncoder(
    {
      inputs: options.inputs,
      source: options.source,
      width: options.width,
      epochs: options.pretrainEpochs,
      batch: options.pretrainBatch,
      lr: 3e-4,
      seed: options.seed,
      shuffleBuffer: 4096,
      checkpointSteps: 20,
      totalRows: state.totalRows,
    },
    {
      encoderDir,
      checkpointDir: (epoch, step) => ctx.checkpoint(`simclr-e${epoch}-s${step}`),
      resumeFrom: state.pretrain,
      commit: async (p) => {
        state.pretrain = p;
        await ctx.commit();
      },
    },
    ctx.log,
  );
  state.encoderDir = encoderDir;
  await ctx.commit();
}

/**
 * The encoder of the run: the user's `--encoder` directory, or the one pretraining made. On the
 * single-threaded wasm backend, inference runs on a pool of worker threads (one per core;
 * identical features); close it when done.
 */
export async function openEncoder(ctx: RunContext): Promise<ImageEncoder & { close(): Promise<void> }> {
  const net = await loadResNet(ctx.state.encoderDir!);
  if (net.imageSize !== ctx.options.source.imageSize) {
    throw new UsageError(`the encoder ${ctx.state.encoderDir} takes ${net.imageSize}-px images; pass --image-size ${net.imageSize}`);
  }
  if (ctx.state.backend === 'wasm' && availableParallelism() > 1) {
    const pool = await EmbedPool.create(net);
    return {
      featureDim: pool.featureDim,
      imageSize: pool.imageSize,
      embed: (pixels, n) => pool.embed(pixels, n),
      close: async () => {
        await pool.close();
        net.dispose();
      },
    };
  }
  return { featureDim: net.featureDim, imageSize: net.imageSize, embed: (pixels, n) => net.embed(pixels, n), close: async () => net.dispose() };
}

import { pretrainEncoder } from '../pretrain.js';
import { trainingEngine } from '../training-engine.js';
import type { RunContext } from './context.js';
import { CLEANSE_DEFAULTS } from './options.js';

/**
 * Pass 1 (optional): SimCLR pretraining of an encoder on the run's own inputs, when no
 * `--encoder` was given. Checkpointed by steps inside DIR/checkpoint; the trained encoder
 * is saved to DIR/checkpoint/encoder.
 */
export async function pretrainPass(ctx: RunContext): Promise<void> {
  const { options, state } = ctx;
  if (state.encoderDir) return;
  const encoderDir = ctx.checkpoint('encoder');
  // a run that started pretraining before the onnx runtime existed has no engine recorded: tfjs
  const started = state.pretrainEngine ?? (state.pretrain ? {} : undefined);
  const engine = trainingEngine(started, { trainRuntime: options.trainRuntime, threads: options.threads }, options.out, ctx.log);
  if (!state.pretrainEngine) {
    state.pretrainEngine = engine;
    await ctx.commit();
  }
  await pretrainEncoder(
    {
      inputs: options.inputs,
      source: options.source,
      width: options.width,
      epochs: options.pretrainEpochs,
      batch: options.pretrainBatch,
      simclrShards: options.simclrShards ?? CLEANSE_DEFAULTS.simclrShards,
      ...engine,
      device: options.device ?? 'auto',
      ...(options.memory === 'low' ? { memory: 'low' as const } : {}),
      lr: 3e-4,
      seed: options.seed,
      shuffleBuffer: 4096,
      checkpointSteps: 20,
      totalRows: state.totalRows,
      tempDir: ctx.tempDir,
    },
    {
      encoderDir,
      checkpointDir: (epoch, step) => ctx.checkpoint(`simclr-e${epoch}-s${step}`),
      resumeFrom: state.pretrain,
      signal: options.signal,
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

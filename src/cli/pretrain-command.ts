import { SOURCE_OPTIONS } from './source-options.js';
import { choiceOpt, intOpt, numberOpt, stringOpt, switchOpt } from './option.js';
import { intOption } from './option-values.js';
import { backendOpt, MEMORY_OPTION, TRAIN_ENGINE_OPTIONS } from './engine-options.js';
import { defineCommand, inputsOf, type Values } from './command.js';
import { followParent, LOW_MEMORY_ENV, needsLowMemoryEnv, rerunWithEnv } from '../low-memory-env.js';

const out = stringOpt('out', 'DIR', 'output directory (required)', { required: true });
const epochs = intOpt('epochs', 'N', 'SimCLR epochs (default {default}; the paper: 100)', { min: 1, default: 10 });
const width = intOpt('width', 'W', "ResNet-18 width: 64 is the paper's, 16/32 fit a CPU", { min: 1, max: 512, default: 16 });
const batch = intOpt('batch', 'B', 'images per step', { min: 2, default: 256 });
const lr = numberOpt('lr', 'X', 'Adam learning rate', { min: 0, max: 1, open: true, default: 3e-4, defaultText: '3e-4' });
const seed = intOpt('seed', 'S', '', { min: 0, default: 0 });
const checkpointSteps = intOpt('checkpoint-steps', 'N', 'steps between checkpoints', { min: 1, default: 50 });
const shuffleBuffer = intOpt('shuffle-buffer', 'N', 'images in the shuffle buffer', { min: 2, default: 4096 });
const simclrShards = intOpt(
  'simclr-shards',
  'S',
  'tfjs runtime on the wasm/cpu backends: each batch is split into S shards\ntrained on min(S, cores) threads, BatchNorm per shard (default {default}; results\ndepend on S, not on the cores)',
  { min: 1, default: 2 },
);
const memory = MEMORY_OPTION;
const resume = switchOpt('resume', 'continue the run in DIR; with a larger --epochs, extend it (the same\nencoder as a run started with that many epochs)');
const backend = backendOpt('TensorFlow.js backend (tfjs runtime): auto, tensorflow, wasm or cpu', { hideDefault: true });

/** `--simclr-shards`, at most one shard per image of the batch. */
function shardsOf(values: Values, batchSize: number): number {
  const shards = simclrShards.read(values);
  return shards <= batchSize ? shards : intOption(values['simclr-shards'] as string, '--simclr-shards', { min: 1, max: batchSize });
}

export const pretrainCommand = defineCommand({
  name: 'pretrain',
  summary: 'Train a SimCLR encoder on images (labels unused), streaming and resumable',
  usage: 'Usage: gssd pretrain <inputs...> --out DIR [--epochs N] [--width W] [--batch B] [--resume]',
  about: `Writes the encoder to DIR/encoder (use it with gssd cleanse --encoder DIR/encoder) and
checkpoints to DIR/checkpoint every --checkpoint-steps steps.`,
  options: [out, epochs, width, batch, lr, seed, checkpointSteps, shuffleBuffer, TRAIN_ENGINE_OPTIONS, memory, simclrShards, resume, backend, SOURCE_OPTIONS],
  async run(values, positionals, log) {
    if (memory.read(values) === 'low') {
      if (needsLowMemoryEnv()) return rerunWithEnv(LOW_MEMORY_ENV); // glibc reads them at start only
      followParent();
    }
    const { pretrainCommandRun } = await import('../../pipelines/pretrain-run.js');
    const b = batch.read(values);
    const engine = TRAIN_ENGINE_OPTIONS.read(values);
    await pretrainCommandRun(
      {
        inputs: await inputsOf(positionals),
        source: SOURCE_OPTIONS.read(values),
        width: width.read(values),
        epochs: epochs.read(values),
        batch: b,
        lr: lr.read(values),
        seed: seed.read(values),
        checkpointSteps: checkpointSteps.read(values),
        shuffleBuffer: shuffleBuffer.read(values),
        simclrShards: shardsOf(values, b),
        device: engine.device,
        ...(memory.read(values) === 'low' ? { memory: 'low' as const } : {}),
      },
      {
        out: out.read(values),
        resume: resume.read(values),
        backend: backend.read(values),
        trainRuntime: engine.trainRuntime,
        threads: engine.threads,
      },
      log,
    );
  },
});

import { SOURCE_HELP, SOURCE_OPTIONS, sourceSettings } from './source-options.js';
import { backendOption, enumOption, intOption, numberOption, stringOption, TRAIN_ENGINE_HELP, TRAIN_ENGINE_OPTIONS, trainEngineOptions } from './options.js';
import { inputsOf, type Command } from './command.js';
import { TRAIN_MEMORY } from '../models/onnx-simclr-graph.js';

export const pretrainCommand: Command = {
  name: 'pretrain',
  summary: 'Train a SimCLR encoder on images (labels unused), streaming and resumable',
  usage: 'Usage: gssd pretrain <inputs...> --out DIR [--epochs N] [--width W] [--batch B] [--resume]',
  help: `Writes the encoder to DIR/encoder (use it with gssd cleanse --encoder DIR/encoder) and
checkpoints to DIR/checkpoint every --checkpoint-steps steps.

  --out DIR                output directory (required)
  --epochs N               SimCLR epochs (default 10; the paper: 100)
  --width W                ResNet-18 width: 64 is the paper's, 16/32 fit a CPU (default 16)
  --batch B                images per step (default 256)
  --lr X                   Adam learning rate (default 3e-4)
  --seed S                 (default 0)
  --checkpoint-steps N     steps between checkpoints (default 50)
  --shuffle-buffer N       images in the shuffle buffer (default 4096)
${TRAIN_ENGINE_HELP}
  --memory M               onnx runtime: fast (default) or low: the encoder view by view with
                           checkpointed blocks, a lower peak memory for one more forward pass
                           per step (README "Performance"); resume with the same value
  --simclr-shards S        tfjs runtime on the wasm/cpu backends: each batch is split into S shards
                           trained on min(S, cores) threads, BatchNorm per shard (default 2; results
                           depend on S, not on the cores)
  --resume                 continue the run in DIR; with a larger --epochs, extend it (the same
                           encoder as a run started with that many epochs)
  --backend B              TensorFlow.js backend (tfjs runtime): auto, tensorflow, wasm or cpu
${SOURCE_HELP}`,
  options: {
    ...SOURCE_OPTIONS, out: { type: 'string' }, epochs: { type: 'string' }, width: { type: 'string' }, batch: { type: 'string' }, lr: { type: 'string' },
    seed: { type: 'string' }, 'checkpoint-steps': { type: 'string' }, 'shuffle-buffer': { type: 'string' }, 'simclr-shards': { type: 'string' }, memory: { type: 'string' }, resume: { type: 'boolean' }, backend: { type: 'string' },
    ...TRAIN_ENGINE_OPTIONS,
  },
  async run(values, positionals, log) {
    const { pretrainCommandRun } = await import('../../pipelines/pretrain-run.js');
    const v = (k: string) => values[k] as string | undefined;
    const batch = intOption(v('batch'), '--batch', { min: 2, fallback: 256 });
    const engine = trainEngineOptions(values);
    await pretrainCommandRun(
      {
        inputs: await inputsOf(positionals),
        source: sourceSettings(values),
        width: intOption(v('width'), '--width', { min: 1, max: 512, fallback: 16 }),
        epochs: intOption(v('epochs'), '--epochs', { min: 1, fallback: 10 }),
        batch,
        lr: numberOption(v('lr'), '--lr', { min: 0, max: 1, open: true, fallback: 3e-4 }),
        seed: intOption(v('seed'), '--seed', { min: 0, fallback: 0 }),
        checkpointSteps: intOption(v('checkpoint-steps'), '--checkpoint-steps', { min: 1, fallback: 50 }),
        shuffleBuffer: intOption(v('shuffle-buffer'), '--shuffle-buffer', { min: 2, fallback: 4096 }),
        simclrShards: intOption(v('simclr-shards'), '--simclr-shards', { min: 1, max: batch, fallback: 2 }),
        device: engine.device,
        ...(enumOption(v('memory'), '--memory', TRAIN_MEMORY, 'fast') === 'low' ? { memory: 'low' as const } : {}),
      },
      {
        out: stringOption(v('out'), '--out'),
        resume: Boolean(values.resume),
        backend: backendOption(v('backend')),
        trainRuntime: engine.trainRuntime,
        threads: engine.threads,
      },
      log,
    );
  },
};

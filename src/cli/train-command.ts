import { resolveInputs } from '../io/inputs.js';
import { SOURCE_HELP, SOURCE_OPTIONS, sourceSettings } from './source-options.js';
import { backendOption, intOption, numberOption, stringOption, TRAIN_ENGINE_HELP, TRAIN_ENGINE_OPTIONS, trainEngineOptions } from './options.js';
import { inputsOf, type Command, type Values } from './command.js';

/**
 * The inputs of a repeatable option (`--finetune a --finetune b`, or `--finetune a,b`),
 * resolved like positionals; [] when absent.
 *
 * @example
 *   const finetune = await listOption(values.finetune);   // ['run/poisoned/part-00000.parquet']
 */
export async function listOption(raw: Values[string]): Promise<string[]> {
  if (raw === undefined || typeof raw === 'boolean') return [];
  const specs = (Array.isArray(raw) ? raw : [raw]).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  return specs.length ? resolveInputs(specs, { stdin: process.stdin }) : [];
}

export const trainCommand: Command = {
  name: 'train',
  summary: 'Train the final classifier (ResNet-18) on cleansed data, then fine-tune on the relabelled rows; streaming and resumable',
  usage: 'Usage: gssd train <inputs...> --out DIR [--finetune <inputs...>] [--width W] [--epochs N] [--batch B] [--lr X] [--seed S] [--resume] [--backend B]',
  help: `Trains from scratch on the rows of <inputs> (e.g. RUN/clean of gssd cleanse) with their
gssd_label (the label column when the inputs have no gssd_label), SGD with momentum 0.9 and
weight decay 5e-4, lr x0.1 at 50% and 75% of the epochs, RandomCrop(pad 4) + flip; then
fine-tunes on the rows of the --finetune inputs (e.g. RUN/poisoned) whose gssd_label is not
null: the relabelled rows. Writes DIR/model (use it with gssd test --model DIR) and
checkpoints to DIR/checkpoint every --checkpoint-steps steps and at every epoch end.

  --out DIR                output directory (required)
  --finetune INPUTS        fine-tuning inputs; repeat the option or give a comma list
                           (--finetune RUN/poisoned --finetune more/ or --finetune a,b)
  --width W                ResNet-18 width: 64 is the paper's, 16/32 fit a CPU (default 16)
  --epochs N               training epochs (default 30; the paper: 200)
  --batch B                images per step (default 128)
  --lr X                   base SGD learning rate (default 0.1)
  --finetune-epochs N      (default 2; 0 skips the fine-tuning)
  --finetune-lr X          constant fine-tuning learning rate (default 1e-4)
  --train-label-col NAME   column with the label to train with (default gssd_label when
                           present, else --label-col; fine-tuning: gssd_label)
  --seed S                 (default 0)
  --checkpoint-steps N     steps between checkpoints (default 50)
  --shuffle-buffer N       images in the shuffle buffer (default 4096)
  --resume                 continue the run in DIR
${TRAIN_ENGINE_HELP}
  --backend B              TensorFlow.js backend (tfjs runtime): auto, tensorflow, wasm or cpu
  --json                   print the summary as JSON
${SOURCE_HELP}`,
  options: {
    ...SOURCE_OPTIONS,
    out: { type: 'string' },
    finetune: { type: 'string', multiple: true },
    width: { type: 'string' },
    epochs: { type: 'string' },
    batch: { type: 'string' },
    lr: { type: 'string' },
    'finetune-epochs': { type: 'string' },
    'finetune-lr': { type: 'string' },
    'train-label-col': { type: 'string' },
    seed: { type: 'string' },
    'checkpoint-steps': { type: 'string' },
    'shuffle-buffer': { type: 'string' },
    resume: { type: 'boolean' },
    backend: { type: 'string' },
    ...TRAIN_ENGINE_OPTIONS,
    json: { type: 'boolean' },
  },
  async run(values, positionals, log) {
    const { train } = await import('../../pipelines/train.js');
    const v = (k: string) => values[k] as string | undefined;
    const summary = await train(
      {
        inputs: await inputsOf(positionals),
        finetune: await listOption(values.finetune),
        out: stringOption(v('out'), '--out'),
        source: sourceSettings(values),
        width: intOption(v('width'), '--width', { min: 1, max: 512, fallback: 16 }),
        epochs: intOption(v('epochs'), '--epochs', { min: 1, fallback: 30 }),
        batch: intOption(v('batch'), '--batch', { min: 2, fallback: 128 }),
        lr: numberOption(v('lr'), '--lr', { min: 0, max: 10, open: true, fallback: 0.1 }),
        finetuneEpochs: intOption(v('finetune-epochs'), '--finetune-epochs', { min: 0, fallback: 2 }),
        finetuneLr: numberOption(v('finetune-lr'), '--finetune-lr', { min: 0, max: 10, open: true, fallback: 1e-4 }),
        labelColumn: v('train-label-col'),
        seed: intOption(v('seed'), '--seed', { min: 0, fallback: 0 }),
        checkpointSteps: intOption(v('checkpoint-steps'), '--checkpoint-steps', { min: 1, fallback: 50 }),
        shuffleBuffer: intOption(v('shuffle-buffer'), '--shuffle-buffer', { min: 2, fallback: 4096 }),
        resume: Boolean(values.resume),
        backend: backendOption(v('backend')),
        ...trainEngineOptions(values),
      },
      log,
    );
    process.stdout.write(
      values.json
        ? JSON.stringify(summary, null, 1) + '\n'
        : `model saved to ${summary.model}: ${summary.trainRows} training rows, ${summary.finetuneRows} fine-tuning rows, ${summary.numClasses} classes; ${summary.imagesPerSec} images/s on ${summary.trainRuntime}\n`,
    );
  },
};

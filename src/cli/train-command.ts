import { resolveInputs } from '../io/inputs.js';
import { SOURCE_OPTIONS } from './source-options.js';
import { intOpt, listOpt, numberOpt, stringOpt, switchOpt } from './option.js';
import { backendOpt, TRAIN_ENGINE_OPTIONS } from './engine-options.js';
import { defineCommand, inputsOf, type Values } from './command.js';

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

const out = stringOpt('out', 'DIR', 'output directory (required)', { required: true });
const finetune = listOpt('finetune', 'INPUTS', 'fine-tuning inputs; repeat the option or give a comma list\n(--finetune RUN/poisoned --finetune more/ or --finetune a,b)');
const width = intOpt('width', 'W', "ResNet-18 width: 64 is the paper's, 16/32 fit a CPU", { min: 1, max: 512, default: 16 });
const epochs = intOpt('epochs', 'N', 'training epochs (default {default}; the paper: 200)', { min: 1, default: 30 });
const batch = intOpt('batch', 'B', 'images per step', { min: 2, default: 128 });
const lr = numberOpt('lr', 'X', 'base SGD learning rate', { min: 0, max: 10, open: true, default: 0.1 });
const finetuneEpochs = intOpt('finetune-epochs', 'N', '(default {default}; 0 skips the fine-tuning)', { min: 0, default: 2 });
const finetuneLr = numberOpt('finetune-lr', 'X', 'constant fine-tuning learning rate', { min: 0, max: 10, open: true, default: 1e-4, defaultText: '1e-4' });
const trainLabelCol = stringOpt('train-label-col', 'NAME', 'column with the label to train with (default gssd_label when\npresent, else --label-col; fine-tuning: gssd_label)');
const seed = intOpt('seed', 'S', '', { min: 0, default: 0 });
const checkpointSteps = intOpt('checkpoint-steps', 'N', 'steps between checkpoints', { min: 1, default: 50 });
const shuffleBuffer = intOpt('shuffle-buffer', 'N', 'images in the shuffle buffer', { min: 2, default: 4096 });
const resume = switchOpt('resume', 'continue the run in DIR');
const backend = backendOpt('TensorFlow.js backend (tfjs runtime): auto, tensorflow, wasm or cpu', { hideDefault: true });
const json = switchOpt('json', 'print the summary as JSON');

export const trainCommand = defineCommand({
  name: 'train',
  summary: 'Train the final classifier (ResNet-18) on cleansed data, then fine-tune on the relabelled rows; streaming and resumable',
  usage: 'Usage: gssd train <inputs...> --out DIR [--finetune <inputs...>] [--width W] [--epochs N] [--batch B] [--lr X] [--seed S] [--resume] [--backend B]',
  about: `Trains from scratch on the rows of <inputs> (e.g. RUN/clean of gssd cleanse) with their
gssd_label (the label column when the inputs have no gssd_label), SGD with momentum 0.9 and
weight decay 5e-4, lr x0.1 at 50% and 75% of the epochs, RandomCrop(pad 4) + flip; then
fine-tunes on the rows of the --finetune inputs (e.g. RUN/poisoned) whose gssd_label is not
null: the relabelled rows. Writes DIR/model (use it with gssd test --model DIR) and
checkpoints to DIR/checkpoint every --checkpoint-steps steps and at every epoch end.`,
  options: [out, finetune, width, epochs, batch, lr, finetuneEpochs, finetuneLr, trainLabelCol, seed, checkpointSteps, shuffleBuffer, resume, TRAIN_ENGINE_OPTIONS, backend, json, SOURCE_OPTIONS],
  async run(values, positionals, log) {
    const { train } = await import('../../pipelines/train.js');
    const summary = await train(
      {
        inputs: await inputsOf(positionals),
        finetune: await listOption(finetune.read(values)),
        out: out.read(values),
        source: SOURCE_OPTIONS.read(values),
        width: width.read(values),
        epochs: epochs.read(values),
        batch: batch.read(values),
        lr: lr.read(values),
        finetuneEpochs: finetuneEpochs.read(values),
        finetuneLr: finetuneLr.read(values),
        labelColumn: trainLabelCol.read(values),
        seed: seed.read(values),
        checkpointSteps: checkpointSteps.read(values),
        shuffleBuffer: shuffleBuffer.read(values),
        resume: resume.read(values),
        backend: backend.read(values),
        ...TRAIN_ENGINE_OPTIONS.read(values),
      },
      log,
    );
    process.stdout.write(
      json.read(values)
        ? JSON.stringify(summary, null, 1) + '\n'
        : `model saved to ${summary.model}: ${summary.trainRows} training rows, ${summary.finetuneRows} fine-tuning rows, ${summary.numClasses} classes; ${summary.imagesPerSec} images/s on ${summary.trainRuntime}\n`,
    );
  },
});

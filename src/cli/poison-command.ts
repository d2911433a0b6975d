import { SOURCE_OPTIONS } from './source-options.js';
import { choiceOpt, intOpt, numberOpt, stringOpt, switchOpt } from './option.js';
import { defineCommand, inputsOf } from './command.js';

const attack = stringOpt(
  'attack',
  'NAME',
  'badnets, blend, wanet, adap-patch, adap-blend, or lc (Label-Consistent,\nTurner et al. 2019: target-class rows perturbed by PGD against --lc-model,\neps 8/255, 10 steps of 2/255, then a checkerboard in each corner; labels kept)',
  { required: true },
);
const rate = numberOpt('rate', 'R', "share of the non-target rows to poison (default 0.1; 0.01 for adap-*);\nlc: share of the target class's rows (default 0.5)", { min: 0, max: 1, open: true });
const lcModel = stringOpt('lc-model', 'DIR', '--attack lc: the gssd train model (run or model directory) to perturb against');
const target = intOpt('target', 'T', 'target class', { min: 0, default: 0 });
const seed = intOpt('seed', 'S', 'seed of the trigger pattern and the row choice', { min: 0, default: 0 });
const split = choiceOpt('split', 'train|test', '', ['train', 'test'] as const, { default: 'train' });
const out = stringOpt('out', 'DIR', 'output directory (required)', { required: true });
const force = switchOpt('force', 'replace the poisoned set in DIR');
const json = switchOpt('json', 'print the summary as JSON');

export const poisonCommand = defineCommand({
  name: 'poison',
  summary: 'Write a backdoor-poisoned copy of a dataset, with its ground truth in a separate file (for evaluation)',
  usage: 'Usage: gssd poison <inputs...> --attack NAME --out DIR [--rate R] [--target T] [--seed S] [--split train|test] [--lc-model DIR]',
  about: `Writes DIR/data/part-*.parquet (every image re-encoded as PNG), DIR/truth/part-*.parquet
(id, is_poisoned, is_cover, source_label: never read by gssd cleanse) and DIR/trigger.png.
--split test writes the triggered test set for ASR: target-class rows removed, every other row
triggered, labels kept.`,
  options: [attack, rate, lcModel, target, seed, split, out, force, json, SOURCE_OPTIONS],
  async run(values, positionals, log) {
    const { poison } = await import('../../pipelines/poison.js');
    const summary = await poison(
      {
        inputs: await inputsOf(positionals),
        out: out.read(values),
        source: SOURCE_OPTIONS.read(values),
        attack: attack.read(values),
        rate: rate.read(values),
        target: target.read(values),
        seed: seed.read(values),
        split: split.read(values),
        force: force.read(values),
        lcModel: lcModel.read(values),
      },
      log,
    );
    process.stdout.write(
      json.read(values)
        ? JSON.stringify(summary, null, 1) + '\n'
        : `${summary.attack} (${summary.split}): ${summary.rowsOut} rows written to ${summary.out}, ${summary.poisoned} triggered${summary.covers ? `, ${summary.covers} cover rows` : ''}${summary.truth ? `; ground truth in ${summary.truth}` : ''}\n`,
    );
  },
});

import { SOURCE_HELP, SOURCE_OPTIONS, sourceSettings } from './source-options.js';
import { enumOption, intOption, numberOption, stringOption } from './options.js';
import { inputsOf, type Command } from './command.js';

export const poisonCommand: Command = {
  name: 'poison',
  summary: 'Write a backdoor-poisoned copy of a dataset, with its ground truth in a separate file (for evaluation)',
  usage: 'Usage: gssd poison <inputs...> --attack NAME --out DIR [--rate R] [--target T] [--seed S] [--split train|test] [--lc-model DIR]',
  help: `Writes DIR/data/part-*.parquet (every image re-encoded as PNG), DIR/truth/part-*.parquet
(id, is_poisoned, is_cover, source_label: never read by gssd cleanse) and DIR/trigger.png.
--split test writes the triggered test set for ASR: target-class rows removed, every other row
triggered, labels kept.

  --attack NAME            badnets, blend, wanet, adap-patch, adap-blend, or lc (Label-Consistent,
                           Turner et al. 2019: target-class rows perturbed by PGD against --lc-model,
                           eps 8/255, 10 steps of 2/255, then a checkerboard in each corner; labels kept)
  --rate R                 share of the non-target rows to poison (default 0.1; 0.01 for adap-*);
                           lc: share of the target class's rows (default 0.5)
  --lc-model DIR           --attack lc: the gssd train model (run or model directory) to perturb against
  --target T               target class (default 0)
  --seed S                 seed of the trigger pattern and the row choice (default 0)
  --split train|test       (default train)
  --out DIR                output directory (required)
  --force                  replace the poisoned set in DIR
${SOURCE_HELP}`,
  options: { ...SOURCE_OPTIONS, attack: { type: 'string' }, rate: { type: 'string' }, target: { type: 'string' }, seed: { type: 'string' }, split: { type: 'string' }, out: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' }, 'lc-model': { type: 'string' } },
  async run(values, positionals, log) {
    const { poison } = await import('../../pipelines/poison.js');
    const v = (k: string) => values[k] as string | undefined;
    const summary = await poison(
      {
        inputs: await inputsOf(positionals),
        out: stringOption(v('out'), '--out'),
        source: sourceSettings(values),
        attack: stringOption(v('attack'), '--attack'),
        rate: v('rate') === undefined ? undefined : numberOption(v('rate'), '--rate', { min: 0, max: 1, open: true }),
        target: intOption(v('target'), '--target', { min: 0, fallback: 0 }),
        seed: intOption(v('seed'), '--seed', { min: 0, fallback: 0 }),
        split: enumOption(v('split'), '--split', ['train', 'test'] as const, 'train'),
        force: Boolean(values.force),
        lcModel: v('lc-model'),
      },
      log,
    );
    process.stdout.write(
      values.json
        ? JSON.stringify(summary, null, 1) + '\n'
        : `${summary.attack} (${summary.split}): ${summary.rowsOut} rows written to ${summary.out}, ${summary.poisoned} triggered${summary.covers ? `, ${summary.covers} cover rows` : ''}${summary.truth ? `; ground truth in ${summary.truth}` : ''}\n`,
    );
  },
};

import { stringOption } from './options.js';
import type { Command } from './command.js';

export const evaluateCommand: Command = {
  name: 'evaluate',
  summary: 'Score a cleanse run against the ground truth of gssd poison',
  usage: 'Usage: gssd evaluate --cleansed DIR --truth PATH [--json]',
  help: `Reports: target class found and wrongly flagged classes; removal recall (poisoned rows not in
clean); clean loss (clean rows not in clean); precision and recall of the poisoned split; relabel
accuracy. Streams both sides in input order (constant memory).

  --cleansed DIR           the --out of gssd cleanse
  --truth PATH             DIR/truth of gssd poison (a directory of parts, or one file)
  --id-col NAME            id column of the cleansed rows (default id)
  --label-col NAME         label column of the cleansed rows (default label)
  --json                   print JSON`,
  options: { cleansed: { type: 'string' }, truth: { type: 'string' }, 'id-col': { type: 'string' }, 'label-col': { type: 'string' }, json: { type: 'boolean' } },
  async run(values) {
    const { evaluate, formatEvaluation } = await import('../../pipelines/evaluate.js');
    const e = await evaluate(stringOption(values.cleansed as string | undefined, '--cleansed'), stringOption(values.truth as string | undefined, '--truth'), {
      id: (values['id-col'] as string | undefined) ?? 'id',
      label: (values['label-col'] as string | undefined) ?? 'label',
      image: 'image',
    });
    process.stdout.write(values.json ? JSON.stringify(e, null, 1) + '\n' : formatEvaluation(e));
  },
};

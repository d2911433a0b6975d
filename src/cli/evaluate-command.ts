import { stringOpt, switchOpt } from './option.js';
import { defineCommand } from './command.js';

const cleansed = stringOpt('cleansed', 'DIR', 'the --out of gssd cleanse', { required: true });
const truth = stringOpt('truth', 'PATH', 'DIR/truth of gssd poison (a directory of parts, or one file)', { required: true });
const idCol = stringOpt('id-col', 'NAME', 'id column of the cleansed rows', { default: 'id' });
const labelCol = stringOpt('label-col', 'NAME', 'label column of the cleansed rows', { default: 'label' });
const json = switchOpt('json', 'print JSON');

export const evaluateCommand = defineCommand({
  name: 'evaluate',
  summary: 'Score a cleanse run against the ground truth of gssd poison',
  usage: 'Usage: gssd evaluate --cleansed DIR --truth PATH [--json]',
  about: `Reports: target class found and wrongly flagged classes; removal recall (poisoned rows not in
clean); clean loss (clean rows not in clean); precision and recall of the poisoned split; relabel
accuracy. Streams both sides in input order (constant memory).`,
  options: [cleansed, truth, idCol, labelCol, json],
  async run(values) {
    const { evaluate, formatEvaluation } = await import('../../pipelines/evaluate.js');
    const e = await evaluate(cleansed.read(values), truth.read(values), { id: idCol.read(values), label: labelCol.read(values), image: 'image' });
    process.stdout.write(json.read(values) ? JSON.stringify(e, null, 1) + '\n' : formatEvaluation(e));
  },
});

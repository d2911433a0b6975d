import { SOURCE_OPTIONS } from './source-options.js';
import { intOpt, switchOpt } from './option.js';
import { defineCommand, inputsOf } from './command.js';

const json = switchOpt('json', 'print JSON instead of text');
const sample = intOpt('sample', 'N', 'images per input whose format and size are read', { min: 0, default: 256 });

export const inspectCommand = defineCommand({
  name: 'inspect',
  summary: 'Row counts, columns, label counts and image formats of Parquet inputs',
  usage: 'Usage: gssd inspect <inputs...> [--json] [--sample N]',
  about: '',
  options: [json, sample, SOURCE_OPTIONS],
  async run(values, positionals, log) {
    const { inspect: run, formatInspect } = await import('../../pipelines/inspect.js');
    const source = SOURCE_OPTIONS.read(values);
    const inputs = await inputsOf(positionals);
    const result = await run(inputs, { ...source, sampleRows: sample.read(values) }, log);
    process.stdout.write(json.read(values) ? JSON.stringify(result, null, 1) + '\n' : formatInspect(result));
  },
});

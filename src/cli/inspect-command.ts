import { SOURCE_HELP, SOURCE_OPTIONS, sourceSettings } from './source-options.js';
import { intOption } from './options.js';
import { inputsOf, type Command } from './command.js';

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'Row counts, columns, label counts and image formats of Parquet inputs',
  usage: 'Usage: gssd inspect <inputs...> [--json] [--sample N]',
  help: `  --json                   print JSON instead of text
  --sample N               images per input whose format and size are read (default 256)
${SOURCE_HELP}`,
  options: { ...SOURCE_OPTIONS, json: { type: 'boolean' }, sample: { type: 'string' } },
  async run(values, positionals, log) {
    const { inspect: run, formatInspect } = await import('../../pipelines/inspect.js');
    const source = sourceSettings(values);
    const inputs = await inputsOf(positionals);
    const result = await run(inputs, { ...source, sampleRows: intOption(values.sample as string | undefined, '--sample', { min: 0, fallback: 256 }) }, log);
    process.stdout.write(values.json ? JSON.stringify(result, null, 1) + '\n' : formatInspect(result));
  },
};


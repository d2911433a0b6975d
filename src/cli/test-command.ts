import { SOURCE_HELP, SOURCE_OPTIONS, sourceSettings } from './source-options.js';
import { backendOption, intOption, stringOption } from './options.js';
import { listOption } from './train-command.js';
import { UsageError } from '../errors.js';
import type { Command } from './command.js';

export const testCommand: Command = {
  name: 'test',
  summary: 'Measure a trained classifier: ACC on a clean test set, ASR on a triggered one',
  usage: 'Usage: gssd test --model DIR --clean <inputs> [--triggered <inputs>] [--target T] [--json]',
  help: `ACC is the share of the --clean rows predicted as their label. ASR is the share of the
--triggered rows (gssd poison --split test output: every non-target row with the trigger)
predicted as the target class; rows labelled with the target are left out. Images are decoded
at the model's size (--image-size is ignored).

  --model DIR              a model directory (DIR/model of gssd train, or that run directory)
  --clean INPUTS           the clean test set; repeat the option or give a comma list (required)
  --triggered INPUTS       the triggered test set; repeat the option or give a comma list
  --target T               target class (default: the one gssd poison recorded in the
                           triggered files' metadata)
  --batch B                images per inference batch (default 256)
  --backend B              auto, tensorflow, wasm or cpu
  --json                   print the result as JSON
${SOURCE_HELP}`,
  options: {
    ...SOURCE_OPTIONS,
    model: { type: 'string' },
    clean: { type: 'string', multiple: true },
    triggered: { type: 'string', multiple: true },
    target: { type: 'string' },
    batch: { type: 'string' },
    backend: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(values, positionals, log) {
    const { testModel, formatTestResult } = await import('../../pipelines/test-model.js');
    const v = (k: string) => values[k] as string | undefined;
    if (positionals.length) throw new UsageError(`Unexpected argument \`${positionals[0]}\`: give the test sets with --clean and --triggered`);
    const model = stringOption(v('model'), '--model');
    const clean = await listOption(values.clean);
    if (!clean.length) throw new UsageError('Expected `--clean` to be given');
    const result = await testModel(
      {
        model,
        clean,
        triggered: await listOption(values.triggered),
        target: v('target') === undefined ? undefined : intOption(v('target'), '--target', { min: 0 }),
        source: sourceSettings(values),
        batch: intOption(v('batch'), '--batch', { min: 1, fallback: 256 }),
        backend: backendOption(v('backend')),
      },
      log,
    );
    process.stdout.write(values.json ? JSON.stringify(result, null, 1) + '\n' : formatTestResult(result));
  },
};

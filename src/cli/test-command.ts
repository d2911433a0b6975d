import { SOURCE_OPTIONS } from './source-options.js';
import { intOpt, listOpt, stringOpt, switchOpt } from './option.js';
import { backendOpt } from './engine-options.js';
import { listOption } from './train-command.js';
import { UsageError } from '../errors.js';
import { defineCommand } from './command.js';

const model = stringOpt('model', 'DIR', 'a model directory (DIR/model of gssd train, or that run directory)', { required: true });
const clean = listOpt('clean', 'INPUTS', 'the clean test set; repeat the option or give a comma list (required)');
const triggered = listOpt('triggered', 'INPUTS', 'the triggered test set; repeat the option or give a comma list');
const target = intOpt('target', 'T', "target class (default: the one gssd poison recorded in the\ntriggered files' metadata)", { min: 0 });
const batch = intOpt('batch', 'B', 'images per inference batch', { min: 1, default: 256 });
const backend = backendOpt('auto, tensorflow, wasm or cpu', { hideDefault: true });
const json = switchOpt('json', 'print the result as JSON');

export const testCommand = defineCommand({
  name: 'test',
  summary: 'Measure a trained classifier: ACC on a clean test set, ASR on a triggered one',
  usage: 'Usage: gssd test --model DIR --clean <inputs> [--triggered <inputs>] [--target T] [--json]',
  about: `ACC is the share of the --clean rows predicted as their label. ASR is the share of the
--triggered rows (gssd poison --split test output: every non-target row with the trigger)
predicted as the target class; rows labelled with the target are left out. Images are decoded
at the model's size (--image-size is ignored).`,
  options: [model, clean, triggered, target, batch, backend, json, SOURCE_OPTIONS],
  async run(values, positionals, log) {
    const { testModel, formatTestResult } = await import('../../pipelines/test-model.js');
    if (positionals.length) throw new UsageError(`Unexpected argument \`${positionals[0]}\`: give the test sets with --clean and --triggered`);
    const dir = model.read(values);
    const cleanInputs = await listOption(clean.read(values));
    if (!cleanInputs.length) throw new UsageError('Expected `--clean` to be given');
    const result = await testModel(
      {
        model: dir,
        clean: cleanInputs,
        triggered: await listOption(triggered.read(values)),
        target: target.read(values),
        source: SOURCE_OPTIONS.read(values),
        batch: batch.read(values),
        backend: backend.read(values),
      },
      log,
    );
    process.stdout.write(json.read(values) ? JSON.stringify(result, null, 1) + '\n' : formatTestResult(result));
  },
});

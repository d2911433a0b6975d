import { choiceOpt, intOpt, numberOpt, stringOpt, switchOpt } from './option.js';
import { backendOpt } from './engine-options.js';
import { defineCommand } from './command.js';
import { DEMO_BUDGET, DEMO_DEFAULTS as D, DEMO_DETECTION, DEMO_TRAIN_RUNTIME } from '../../pipelines/demo-defaults.js';

const out = stringOpt('out', 'DIR', 'demo directory, replaced on each run', { default: D.out });
const rows = intOpt('rows', 'N', 'images', { min: 100, default: D.rows });
const data = choiceOpt('data', 'SOURCE', 'auto, cifar10 or synthetic', ['auto', 'cifar10', 'synthetic'] as const, { default: D.data });
const attack = stringOpt('attack', 'NAME', 'badnets, blend, wanet, adap-patch, adap-blend', { default: D.attack });
const rate = numberOpt('rate', 'R', "poison rate (default: the attack's)", { min: 0, max: 1, open: true });
const target = intOpt('target', 'T', 'target class', { min: 0, max: 9, default: D.target });
const width = intOpt('width', 'W', `encoder width (default ${DEMO_BUDGET.cifar10.width} on CIFAR-10, ${DEMO_BUDGET.synthetic.width} on the procedural images)`, { min: 1, max: 512 });
const pretrainEpochs = intOpt('pretrain-epochs', 'N', `SimCLR epochs (default ${DEMO_BUDGET.synthetic.pretrainEpochs})`, { min: 0 });
const flowEpochs = intOpt('flow-epochs', 'N', 'flow epochs', { min: 1, default: D.flowEpochs });
const targetDetection = choiceOpt(
  'target-detection',
  'M',
  "paper or robust (default {default}: robust needs a larger budget than the\ndemo's, see README)",
  ['paper', 'robust'] as const,
  { default: DEMO_DETECTION.targetDetection },
);
const cut = choiceOpt('cut', 'fixed|adaptive', 'split of a flagged class', ['fixed', 'adaptive'] as const, { default: DEMO_DETECTION.cut });
const seed = intOpt('seed', 'S', '', { min: 0, default: D.seed });
const backend = backendOpt('auto, tensorflow, wasm or cpu', { hideDefault: true });
const trainRuntime = choiceOpt(
  'train-runtime',
  'R',
  "tfjs (default: the runtime the demo's budget was measured on), onnx or auto",
  ['auto', 'onnx', 'tfjs'] as const,
  { default: DEMO_TRAIN_RUNTIME, hideDefault: true },
);
const json = switchOpt('json', 'print JSON');

export const demoCommand = defineCommand({
  name: 'demo',
  summary: 'The embedded default: poison a few thousand images with a backdoor, cleanse them, score the result',
  usage: 'Usage: gssd demo [--out DIR] [--rows N] [--data auto|cifar10|synthetic] [--attack NAME]',
  about: `Takes CIFAR-10 from ../shared/data/cifar10 when it is there (or $GSSD_CIFAR10_DIR), else seeded
procedural images; poisons 10% of the non-target rows (BadNets, target 0), runs gssd cleanse
(pretraining its own encoder), and prints what it found and, since it knows the truth, the
removal recall and the clean loss.`,
  options: [out, rows, data, attack, rate, target, width, pretrainEpochs, flowEpochs, targetDetection, cut, seed, backend, trainRuntime, json],
  async run(values, _positionals, log) {
    const { demo } = await import('../../pipelines/demo.js');
    const { formatEvaluation } = await import('../../pipelines/evaluate.js');
    const { formatCleanseSummary } = await import('../../pipelines/cleanse/summary.js');
    const dir = out.read(values);
    const result = await demo(
      {
        out: dir,
        rows: rows.read(values),
        data: data.read(values),
        attack: attack.read(values),
        rate: rate.read(values),
        target: target.read(values),
        width: width.read(values),
        pretrainEpochs: pretrainEpochs.read(values),
        flowEpochs: flowEpochs.read(values),
        targetDetection: targetDetection.read(values),
        cut: cut.read(values),
        seed: seed.read(values),
        backend: backend.read(values),
        trainRuntime: trainRuntime.read(values),
      },
      log,
    );
    if (json.read(values)) {
      process.stdout.write(JSON.stringify({ dataset: result.dataset, poisoned: result.poisoned, evaluation: result.evaluation, report: result.report }, null, 1) + '\n');
      return;
    }
    process.stdout.write(
      `data: ${result.dataset}; ${result.poisoned.poisoned} rows poisoned with ${result.poisoned.attack} (target ${result.poisoned.target})\n` +
        formatCleanseSummary(result.report, `${dir}/run`) +
        formatEvaluation(result.evaluation),
    );
  },
});

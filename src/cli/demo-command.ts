import { backendOption, enumOption, intOption, numberOption } from './options.js';
import type { Command } from './command.js';

export const demoCommand: Command = {
  name: 'demo',
  summary: 'The embedded default: poison a few thousand images with a backdoor, cleanse them, score the result',
  usage: 'Usage: gssd demo [--out DIR] [--rows N] [--data auto|cifar10|synthetic] [--attack NAME]',
  help: `Takes CIFAR-10 from ../shared/data/cifar10 when it is there (or $GSSD_CIFAR10_DIR), else seeded
procedural images; poisons 10% of the non-target rows (BadNets, target 0), runs gssd cleanse
(pretraining its own encoder), and prints what it found and, since it knows the truth, the
removal recall and the clean loss.

  --out DIR                demo directory, replaced on each run (default gssd-demo)
  --rows N                 images (default 3000)
  --data SOURCE            auto, cifar10 or synthetic (default auto)
  --attack NAME            badnets, blend, wanet, adap-patch, adap-blend (default badnets)
  --rate R                 poison rate (default: the attack's)
  --width W                encoder width (default 8 on CIFAR-10, 16 on the procedural images)
  --pretrain-epochs N      SimCLR epochs (default 5)
  --flow-epochs N          flow epochs (default 20)
  --target-detection M     paper or robust (default paper: robust needs a larger budget than the
                           demo's, see README)
  --cut fixed|adaptive     split of a flagged class (default adaptive)
  --seed S                 (default 0)
  --backend B              auto, tensorflow, wasm or cpu
  --train-runtime R        tfjs (default: the runtime the demo's budget was measured on), onnx or auto
  --json                   print JSON`,
  options: {
    out: { type: 'string' }, rows: { type: 'string' }, data: { type: 'string' }, attack: { type: 'string' }, rate: { type: 'string' },
    width: { type: 'string' }, 'pretrain-epochs': { type: 'string' }, 'flow-epochs': { type: 'string' }, seed: { type: 'string' },
    backend: { type: 'string' }, 'train-runtime': { type: 'string' }, target: { type: 'string' }, 'target-detection': { type: 'string' }, cut: { type: 'string' }, json: { type: 'boolean' },
  },
  async run(values, _positionals, log) {
    const { demo, DEMO_DEFAULTS, DEMO_DETECTION, DEMO_TRAIN_RUNTIME } = await import('../../pipelines/demo.js');
    const { formatEvaluation } = await import('../../pipelines/evaluate.js');
    const { formatCleanseSummary } = await import('../../pipelines/cleanse/summary.js');
    const v = (k: string) => values[k] as string | undefined;
    const D = DEMO_DEFAULTS;
    const out = v('out') ?? D.out;
    const result = await demo(
      {
        out,
        rows: intOption(v('rows'), '--rows', { min: 100, fallback: D.rows }),
        data: enumOption(v('data'), '--data', ['auto', 'cifar10', 'synthetic'] as const, D.data),
        attack: v('attack') ?? D.attack,
        rate: v('rate') === undefined ? undefined : numberOption(v('rate'), '--rate', { min: 0, max: 1, open: true }),
        target: intOption(v('target'), '--target', { min: 0, max: 9, fallback: D.target }),
        width: v('width') === undefined ? undefined : intOption(v('width'), '--width', { min: 1, max: 512 }),
        pretrainEpochs: v('pretrain-epochs') === undefined ? undefined : intOption(v('pretrain-epochs'), '--pretrain-epochs', { min: 0 }),
        flowEpochs: intOption(v('flow-epochs'), '--flow-epochs', { min: 1, fallback: D.flowEpochs }),
        targetDetection: enumOption(v('target-detection'), '--target-detection', ['paper', 'robust'] as const, DEMO_DETECTION.targetDetection),
        cut: enumOption(v('cut'), '--cut', ['fixed', 'adaptive'] as const, DEMO_DETECTION.cut),
        seed: intOption(v('seed'), '--seed', { min: 0, fallback: D.seed }),
        backend: backendOption(v('backend')),
        trainRuntime: enumOption(v('train-runtime'), '--train-runtime', ['auto', 'onnx', 'tfjs'] as const, DEMO_TRAIN_RUNTIME),
      },
      log,
    );
    if (values.json) {
      process.stdout.write(JSON.stringify({ dataset: result.dataset, poisoned: result.poisoned, evaluation: result.evaluation, report: result.report }, null, 1) + '\n');
      return;
    }
    process.stdout.write(
      `data: ${result.dataset}; ${result.poisoned.poisoned} rows poisoned with ${result.poisoned.attack} (target ${result.poisoned.target})\n` +
        formatCleanseSummary(result.report, `${out}/run`) +
        formatEvaluation(result.evaluation),
    );
  },
};

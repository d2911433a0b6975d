import { UsageError } from '../errors.js';
import { SOURCE_HELP, SOURCE_OPTIONS, sourceSettings } from './source-options.js';
import { backendOption, enumOption, intOption, numberOption, stringOption, TRAIN_ENGINE_HELP, TRAIN_ENGINE_OPTIONS, trainEngineOptions } from './options.js';
import { inputsOf, type Command, type Values } from './command.js';
import { CLEANSE_DEFAULTS, type CleanseOptions } from '../../pipelines/cleanse/options.js';

export const cleanseCommand: Command = {
  name: 'cleanse',
  summary: 'Find the attacked classes and split the rows into clean / poisoned / uncertain / rejected Parquet',
  usage: 'Usage: gssd cleanse <inputs...> --out DIR [options]',
  help: `Runs GSSD (pretrain -> embed -> fit per-class flows -> score -> detect -> route), streaming and
checkpointed; writes DIR/{clean,poisoned,uncertain,rejected}/part-*.parquet, DIR/report.json and
DIR/report.html. Each output row carries the input columns plus gssd_split, gssd_score, gssd_loglik,
gssd_pred, gssd_label (the label to train with, null where none) and gssd_reason.

  --out DIR                run directory (required; must be empty or new unless --resume/--force); or
                           s3://bucket/prefix: parts uploaded as each checkpoint commits them, visible
                           only complete, then report.json, report.html and manifest.json (last)
  --run-dir DIR            with an s3:// --out: the local run directory (checkpoint, work files, parts
                           not yet uploaded; default under the OS temp dir, named after the URI)
  --resume                 continue the killed or finished run in DIR (same options)
  --force                  replace the gssd run in DIR
  --encoder DIR|FILE       a saved gssd encoder (from gssd pretrain) or an ONNX image tower (.onnx, NCHW
                           float input; size and normalisation from its gssd_* metadata or CIFAR's);
                           skips pretraining
  --embed-runtime R        auto, onnx or tfjs: who runs the encoder (default auto: ONNX Runtime)
  --score-runtime R        auto, onnx or tfjs: who computes the flow likelihoods (default auto: ONNX Runtime)
  --pretrain-epochs N      SimCLR epochs when no --encoder is given (default ${CLEANSE_DEFAULTS.pretrainEpochs})
  --pretrain-batch N       SimCLR batch size (default ${CLEANSE_DEFAULTS.pretrainBatch})
${TRAIN_ENGINE_HELP}
  --simclr-shards S        SimCLR with --train-runtime tfjs on the wasm/cpu backends: shards per batch, on min(S, cores) threads,
                           BatchNorm per shard (default ${CLEANSE_DEFAULTS.simclrShards})
  --width W                ResNet-18 width when pretraining: 64 is the paper's, 16/32 fit a CPU (default ${CLEANSE_DEFAULTS.width})
  --flow-epochs N          epochs of the per-class flows (default ${CLEANSE_DEFAULTS.flowEpochs})
  --flow-batch N           rows per flow step (default ${CLEANSE_DEFAULTS.flowBatch})
  --flow-lr X              flow Adam learning rate (default ${CLEANSE_DEFAULTS.flowLr})
  --flow-workers N         threads training the per-class flows; any count gives the same flows
                           (default: the CPU count on the wasm and cpu backends, 1 on tensorflow)
  --target-detection M     paper (docs/method.md thresholds) or robust (outliers among classes) (default ${CLEANSE_DEFAULTS.targetDetection})
  --robust-alpha A         robust mode: chance of flagging a class of a clean dataset, under normal
                           class statistics (default ${CLEANSE_DEFAULTS.robustAlpha})
  --detector NAME          gssd, or a baseline on the same embeddings: spectral (Spectral Signatures,
                           Tran et al. 2018), activation-clustering (Chen et al. 2018) or knn (Deep k-NN,
                           Peri et al. 2020: a row is removed when its neighbours' plurality label is
                           another) (default gssd)
  --knn-k N                --detector knn: neighbours per row (default ${CLEANSE_DEFAULTS.knnK})
  --cut fixed|adaptive     split of a flagged class: the alpha fractions, or a 2-component mixture fit
                           of its scores (default ${CLEANSE_DEFAULTS.cut})
  --lambda X               D-test lambda (default ${CLEANSE_DEFAULTS.lambda})
  --beta-d X               D-test beta_D (default ${CLEANSE_DEFAULTS.betaD})
  --beta-nd X              ND-test beta_ND (default ${CLEANSE_DEFAULTS.betaND})
  --alpha-clean X          --cut fixed: share of a flagged class kept as clean (default ${CLEANSE_DEFAULTS.alphaClean})
  --alpha-poison X         --cut fixed: share of a flagged class called poisoned (default ${CLEANSE_DEFAULTS.alphaPoison})
  --seed N                 seed of everything random (default ${CLEANSE_DEFAULTS.seed})
  --backend B              auto, tensorflow, wasm or cpu (default auto)
  --part-rows N            rows per output part file (default ${CLEANSE_DEFAULTS.partRows})
  --checkpoint-rows N      rows between checkpoints of the streaming passes (default ${CLEANSE_DEFAULTS.checkpointRows})
  --keep-work              keep DIR/work (embedding cache, likelihood matrix)
  --engine local|bullmq    local: this process runs every pass (default); bullmq: the passes run as
                           jobs on \`gssd worker\`s through Redis (needs --encoder and --redis; DIR and
                           the inputs must be at the same paths on every worker; docs/distributed.md)
  --redis URL              the Redis of --engine bullmq (redis://host:port[/db])
  --on-duplicate-id warn|error  rows repeating an earlier row's id: counted, warned about and in
                           report.json (warn, the default), or an input error after the embed pass
  --json                   print the report as JSON on stdout
${SOURCE_HELP}`,
  options: {
    ...SOURCE_OPTIONS,
    out: { type: 'string' },
    'run-dir': { type: 'string' },
    resume: { type: 'boolean' },
    force: { type: 'boolean' },
    encoder: { type: 'string' },
    'embed-runtime': { type: 'string' },
    'score-runtime': { type: 'string' },
    'pretrain-epochs': { type: 'string' },
    'pretrain-batch': { type: 'string' },
    'simclr-shards': { type: 'string' },
    ...TRAIN_ENGINE_OPTIONS,
    width: { type: 'string' },
    'flow-epochs': { type: 'string' },
    'flow-batch': { type: 'string' },
    'flow-lr': { type: 'string' },
    'flow-workers': { type: 'string' },
    'target-detection': { type: 'string' },
    'robust-alpha': { type: 'string' },
    cut: { type: 'string' },
    detector: { type: 'string' },
    'knn-k': { type: 'string' },
    lambda: { type: 'string' },
    'beta-d': { type: 'string' },
    'beta-nd': { type: 'string' },
    'alpha-clean': { type: 'string' },
    'alpha-poison': { type: 'string' },
    seed: { type: 'string' },
    backend: { type: 'string' },
    'part-rows': { type: 'string' },
    'checkpoint-rows': { type: 'string' },
    'keep-work': { type: 'boolean' },
    'on-duplicate-id': { type: 'string' },
    json: { type: 'boolean' },
    engine: { type: 'string' },
    redis: { type: 'string' },
  },
  async run(values, positionals, log) {
    const { cleanse: run } = await import('../../pipelines/cleanse.js');
    const { formatCleanseSummary } = await import('../../pipelines/cleanse/summary.js');
    const engine = enumOption(values.engine as string | undefined, '--engine', ['local', 'bullmq'] as const, 'local');
    if (engine === 'local' && values.redis !== undefined) throw new UsageError('--redis is for --engine bullmq');
    if (engine === 'bullmq' && /^s3:\/\//i.test(String(values.out))) throw new UsageError('--engine bullmq needs a shared directory as --out; an s3:// --out is for --engine local');
    const options = cleanseOptions(values, await inputsOf(positionals));
    const report =
      engine === 'bullmq'
        ? await (await import('../../pipelines/distributed/coordinator.js')).cleanseDistributed(options, stringOption(values.redis as string | undefined, '--redis'), log)
        : await run(options, log);
    process.stdout.write(values.json ? JSON.stringify(report, null, 1) + '\n' : formatCleanseSummary(report, options.out));
  },
};

/** Reads and checks the options of `gssd cleanse`. */
export function cleanseOptions(values: Values, inputs: string[]): CleanseOptions {
  const v = (k: string) => values[k] as string | undefined;
  const D = CLEANSE_DEFAULTS;
  const alphaClean = numberOption(v('alpha-clean'), '--alpha-clean', { min: 0, max: 1, fallback: D.alphaClean });
  const alphaPoison = numberOption(v('alpha-poison'), '--alpha-poison', { min: 0, max: 1, fallback: D.alphaPoison });
  const pretrainBatch = intOption(v('pretrain-batch'), '--pretrain-batch', { min: 2, fallback: D.pretrainBatch });
  if (alphaClean + alphaPoison > 1) throw new UsageError(`Expected \`--alpha-clean\` + \`--alpha-poison\` to be at most 1, got \`${alphaClean + alphaPoison}\``);
  const cut = enumOption(v('cut'), '--cut', ['fixed', 'adaptive'] as const, D.cut);
  if (cut !== 'fixed' && (v('alpha-clean') !== undefined || v('alpha-poison') !== undefined)) {
    throw new UsageError('--alpha-clean and --alpha-poison size the fixed cut; add --cut fixed (the default cut is adaptive)');
  }
  const targetDetection = enumOption(v('target-detection'), '--target-detection', ['paper', 'robust'] as const, D.targetDetection);
  if (targetDetection !== 'robust' && v('robust-alpha') !== undefined) {
    throw new UsageError('--robust-alpha sets the level of robust detection; it does nothing with --target-detection paper');
  }
  const detector = enumOption(v('detector'), '--detector', ['gssd', 'spectral', 'activation-clustering', 'knn'] as const, D.detector);
  if (detector !== 'knn' && v('knn-k') !== undefined) throw new UsageError('--knn-k sets the neighbours of --detector knn; add --detector knn');
  return {
    inputs,
    out: stringOption(v('out'), '--out'),
    runDir: v('run-dir'),
    source: sourceSettings(values),
    encoder: v('encoder'),
    embedRuntime: enumOption(v('embed-runtime'), '--embed-runtime', ['auto', 'onnx', 'tfjs'] as const, D.embedRuntime),
    scoreRuntime: enumOption(v('score-runtime'), '--score-runtime', ['auto', 'onnx', 'tfjs'] as const, D.scoreRuntime),
    pretrainEpochs: intOption(v('pretrain-epochs'), '--pretrain-epochs', { min: 0, fallback: D.pretrainEpochs }),
    pretrainBatch,
    simclrShards: intOption(v('simclr-shards'), '--simclr-shards', { min: 1, max: pretrainBatch, fallback: D.simclrShards }),
    ...trainEngineOptions(values),
    width: intOption(v('width'), '--width', { min: 1, max: 512, fallback: D.width }),
    flowEpochs: intOption(v('flow-epochs'), '--flow-epochs', { min: 1, fallback: D.flowEpochs }),
    flowBatch: intOption(v('flow-batch'), '--flow-batch', { min: 2, fallback: D.flowBatch }),
    flowLr: numberOption(v('flow-lr'), '--flow-lr', { min: 0, max: 1, open: true, fallback: D.flowLr }),
    flowWorkers: v('flow-workers') === undefined ? undefined : intOption(v('flow-workers'), '--flow-workers', { min: 1, max: 256, fallback: 1 }),
    targetDetection,
    robustAlpha: numberOption(v('robust-alpha'), '--robust-alpha', { min: 0, max: 1, open: true, fallback: D.robustAlpha }),
    detector,
    knnK: intOption(v('knn-k'), '--knn-k', { min: 1, fallback: D.knnK }),
    cut,
    lambda: numberOption(v('lambda'), '--lambda', { min: 0, max: 1, open: true, fallback: D.lambda }),
    betaD: numberOption(v('beta-d'), '--beta-d', { min: 0, max: 1, fallback: D.betaD }),
    betaND: numberOption(v('beta-nd'), '--beta-nd', { fallback: D.betaND }),
    alphaClean,
    alphaPoison,
    seed: intOption(v('seed'), '--seed', { min: 0, max: 2 ** 32 - 1, fallback: D.seed }),
    backend: backendOption(v('backend')),
    resume: Boolean(values.resume),
    force: Boolean(values.force),
    partRows: intOption(v('part-rows'), '--part-rows', { min: 1, fallback: D.partRows }),
    checkpointRows: intOption(v('checkpoint-rows'), '--checkpoint-rows', { min: 1, fallback: D.checkpointRows }),
    keepWork: Boolean(values['keep-work']),
    onDuplicateId: enumOption(v('on-duplicate-id'), '--on-duplicate-id', ['warn', 'error'] as const, 'warn'),
  };
}


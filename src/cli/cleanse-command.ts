import { UsageError } from '../errors.js';
import { SOURCE_OPTIONS } from './source-options.js';
import { choiceOpt, intOpt, numberOpt, stringOpt, switchOpt, type Option } from './option.js';
import { intOption, stringOption } from './option-values.js';
import { backendOpt, MEMORY_OPTION, TRAIN_ENGINE_OPTIONS } from './engine-options.js';
import { followParent, LOW_MEMORY_ENV, needsLowMemoryEnv, rerunWithEnv } from '../low-memory-env.js';
import { defineCommand, inputsOf, type Values } from './command.js';
import { CLEANSE_DEFAULTS as D, type CleanseOptions } from '../../pipelines/cleanse/options.js';

const out = stringOpt(
  'out',
  'DIR',
  'run directory (required; must be empty or new unless --resume/--force); or\ns3://bucket/prefix: parts uploaded as each checkpoint commits them, visible\nonly complete, then report.json, report.html and manifest.json (last)',
  { required: true },
);
const runDir = stringOpt(
  'run-dir',
  'DIR',
  'with an s3:// --out: the local run directory (checkpoint, work files, parts\nnot yet uploaded; default under the OS temp dir, named after the URI)',
);
const resume = switchOpt('resume', 'continue the killed or finished run in DIR (same options)');
const force = switchOpt('force', 'replace the gssd run in DIR');
const encoder = stringOpt(
  'encoder',
  'DIR|FILE',
  "a saved gssd encoder (from gssd pretrain) or an ONNX image tower (.onnx, NCHW\nfloat input; size and normalisation from its gssd_* metadata or CIFAR's);\nskips pretraining",
);
const embedRuntime = choiceOpt('embed-runtime', 'R', 'auto, onnx or tfjs: who runs the encoder (default {default}: ONNX Runtime)', ['auto', 'onnx', 'tfjs'] as const, { default: D.embedRuntime });
const scoreRuntime = choiceOpt('score-runtime', 'R', 'auto, onnx or tfjs: who computes the flow likelihoods (default {default}: ONNX Runtime)', ['auto', 'onnx', 'tfjs'] as const, {
  default: D.scoreRuntime,
});
const pretrainEpochs = intOpt('pretrain-epochs', 'N', 'SimCLR epochs when no --encoder is given', { min: 0, default: D.pretrainEpochs });
const pretrainBatch = intOpt('pretrain-batch', 'N', 'SimCLR batch size', { min: 2, default: D.pretrainBatch });
const simclrShards = intOpt(
  'simclr-shards',
  'S',
  'SimCLR with --train-runtime tfjs on the wasm/cpu backends: shards per batch, on min(S, cores) threads,\nBatchNorm per shard',
  { min: 1, default: D.simclrShards },
);
const width = intOpt('width', 'W', "ResNet-18 width when pretraining: 64 is the paper's, 16/32 fit a CPU", { min: 1, max: 512, default: D.width });
const flowEpochs = intOpt('flow-epochs', 'N', 'epochs of the per-class flows', { min: 1, default: D.flowEpochs });
const flowBatch = intOpt('flow-batch', 'N', 'rows per flow step', { min: 2, default: D.flowBatch });
const flowLr = numberOpt('flow-lr', 'X', 'flow Adam learning rate', { min: 0, max: 1, open: true, default: D.flowLr });
const flowWorkers = intOpt(
  'flow-workers',
  'N',
  'threads training the per-class flows; any count gives the same flows\n(default: the CPU count on the wasm and cpu backends, 1 on tensorflow)',
  { min: 1, max: 256 },
);
const fitRowsPerClass = intOpt(
  'fit-rows-per-class',
  'N',
  "fit each class's flow on a seeded sample of about N of its rows; every row\nis still embedded, scored and routed (for a lake: docs/distributed.md).\nDefault: every row",
  { min: 1 },
);
const targetDetection = choiceOpt('target-detection', 'M', 'paper (docs/method.md thresholds) or robust (outliers among classes)', ['paper', 'robust'] as const, {
  default: D.targetDetection,
});
const robustAlpha = numberOpt('robust-alpha', 'A', 'robust mode: chance of flagging a class of a clean dataset, under normal\nclass statistics', {
  min: 0,
  max: 1,
  open: true,
  default: D.robustAlpha,
});
const robustNDScale = choiceOpt(
  'robust-nd-scale',
  'S',
  'robust mode: compare the classes\' ND statistics on a log scale (log) or as they are\n(linear, gssd before 0.x)',
  ['log', 'linear'] as const,
  { default: D.robustNDScale },
);
const detector = choiceOpt(
  'detector',
  'NAME',
  "gssd, or a baseline on the same embeddings: spectral (Spectral Signatures,\nTran et al. 2018), activation-clustering (Chen et al. 2018) or knn (Deep k-NN,\nPeri et al. 2020: a row is removed when its neighbours' plurality label is\nanother)",
  ['gssd', 'spectral', 'activation-clustering', 'knn'] as const,
  { default: D.detector },
);
const knnK = intOpt('knn-k', 'N', '--detector knn: neighbours per row', { min: 1, default: D.knnK });
const cut = choiceOpt('cut', 'fixed|adaptive', 'split of a flagged class: the alpha fractions, or a 2-component mixture fit\nof its scores', ['fixed', 'adaptive'] as const, {
  default: D.cut,
});
const lambda = numberOpt('lambda', 'X', 'D-test lambda', { min: 0, max: 1, open: true, default: D.lambda });
const betaD = numberOpt('beta-d', 'X', 'D-test beta_D', { min: 0, max: 1, default: D.betaD });
const betaND = numberOpt('beta-nd', 'X', 'ND-test beta_ND', { default: D.betaND });
const alphaClean = numberOpt('alpha-clean', 'X', '--cut fixed: share of a flagged class kept as clean', { min: 0, max: 1, default: D.alphaClean });
const alphaPoison = numberOpt('alpha-poison', 'X', '--cut fixed: share of a flagged class called poisoned', { min: 0, max: 1, default: D.alphaPoison });
/** `--relabel-margin X|off` (`CleanseOptions.relabelMargin`; off is null). */
const relabelMargin: Option<number | null> = {
  flag: 'relabel-margin',
  arg: 'X|off',
  help: `ND-flagged classes: relabel a row of the poisoned cut only when the best\nother class's flow beats its own by more than X (per-dimension log-likelihood);\nthe rest of the cut goes to uncertain. off: relabel the whole cut (the paper)\n(default ${D.relabelMargin})`,
  read: (v) => {
    const raw = v['relabel-margin'] as string | undefined;
    if (raw === undefined) return D.relabelMargin;
    if (raw === 'off') return null;
    const x = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(x) || x < 0) throw new UsageError(`Expected \`--relabel-margin\` to be off or a number from 0 and up, got \`${raw}\``);
    return x;
  },
};
const seed = intOpt('seed', 'N', 'seed of everything random', { min: 0, max: 2 ** 32 - 1, default: D.seed });
const backend = backendOpt('auto, tensorflow, wasm or cpu');
const partRows = intOpt('part-rows', 'N', 'rows per output part file', { min: 1, default: D.partRows });
const checkpointRows = intOpt('checkpoint-rows', 'N', 'rows between checkpoints of the streaming passes', { min: 1, default: D.checkpointRows });
const keepWork = switchOpt('keep-work', 'keep DIR/work (embedding cache, likelihood matrix)');
const engine = choiceOpt(
  'engine',
  'local|bullmq',
  'local: this process runs every pass (default); bullmq: the passes run as\njobs on `gssd worker`s through Redis (needs --encoder and --redis; DIR and\nthe inputs at the same paths on every worker, or an s3:// --out and\ns3:// inputs; docs/distributed.md)',
  ['local', 'bullmq'] as const,
  { default: 'local', hideDefault: true },
);
const redis = stringOpt('redis', 'URL', 'the Redis of --engine bullmq (redis://host:port[/db])');
const onDuplicateId = choiceOpt(
  'on-duplicate-id',
  'warn|error',
  'rows repeating an earlier row\'s id: counted, warned about and in\nreport.json (warn, the default), or an input error after the embed pass',
  ['warn', 'error'] as const,
  { default: 'warn', hideDefault: true },
);
const json = switchOpt('json', 'print the report as JSON on stdout');

export const cleanseCommand = defineCommand({
  name: 'cleanse',
  summary: 'Find the attacked classes and split the rows into clean / poisoned / uncertain / rejected Parquet',
  usage: 'Usage: gssd cleanse <inputs...> --out DIR [options]',
  about: `Runs GSSD (pretrain -> embed -> fit per-class flows -> score -> detect -> route), streaming and
checkpointed; writes DIR/{clean,poisoned,uncertain,rejected}/part-*.parquet, DIR/report.json and
DIR/report.html. Each output row carries the input columns plus gssd_split, gssd_score, gssd_loglik,
gssd_pred, gssd_label (the label to train with, null where none) and gssd_reason.`,
  options: [
    out, runDir, resume, force, encoder, embedRuntime, scoreRuntime, pretrainEpochs, pretrainBatch, TRAIN_ENGINE_OPTIONS, MEMORY_OPTION, simclrShards, width,
    flowEpochs, flowBatch, flowLr, flowWorkers, fitRowsPerClass, targetDetection, robustAlpha, robustNDScale, detector, knnK, cut, relabelMargin, lambda, betaD, betaND, alphaClean, alphaPoison,
    seed, backend, partRows, checkpointRows, keepWork, engine, redis, onDuplicateId, json, SOURCE_OPTIONS,
  ],
  async run(values, positionals, log) {
    // before anything reads the inputs (a list on stdin is for the child to read)
    if (MEMORY_OPTION.read(values) === 'low') {
      if (needsLowMemoryEnv()) return rerunWithEnv(LOW_MEMORY_ENV); // glibc reads them at start only
      followParent();
    }
    const options = cleanseOptions(values, await inputsOf(positionals));
    const { cleanse: run } = await import('../../pipelines/cleanse.js');
    const { formatCleanseSummary } = await import('../../pipelines/cleanse/summary.js');
    const mode = engine.read(values);
    if (mode === 'local' && redis.read(values) !== undefined) throw new UsageError('--redis is for --engine bullmq');
    const report =
      mode === 'bullmq'
        ? await (await import('../../pipelines/distributed/coordinator.js')).cleanseDistributed(options, stringOption(redis.read(values), '--redis'), log)
        : await run(options, log);
    process.stdout.write(json.read(values) ? JSON.stringify(report, null, 1) + '\n' : formatCleanseSummary(report, options.out));
  },
});

/** Reads and checks the options of `gssd cleanse`. */
export function cleanseOptions(values: Values, inputs: string[]): CleanseOptions {
  const given = (o: { flag: string }) => values[o.flag] !== undefined;
  const clean = alphaClean.read(values);
  const poison = alphaPoison.read(values);
  const batch = pretrainBatch.read(values);
  if (clean + poison > 1) throw new UsageError(`Expected \`--alpha-clean\` + \`--alpha-poison\` to be at most 1, got \`${clean + poison}\``);
  const cutMode = cut.read(values);
  if (cutMode !== 'fixed' && (given(alphaClean) || given(alphaPoison))) {
    throw new UsageError('--alpha-clean and --alpha-poison size the fixed cut; add --cut fixed (the default cut is adaptive)');
  }
  const detection = targetDetection.read(values);
  if (detection !== 'robust' && (given(robustAlpha) || given(robustNDScale))) {
    throw new UsageError(`--${given(robustAlpha) ? 'robust-alpha' : 'robust-nd-scale'} sets robust detection; it does nothing with --target-detection paper`);
  }
  const detectorName = detector.read(values);
  if (detectorName !== 'knn' && given(knnK)) throw new UsageError('--knn-k sets the neighbours of --detector knn; add --detector knn');
  const memory = MEMORY_OPTION.read(values);
  if (memory === 'low' && encoder.read(values) !== undefined) throw new UsageError('--memory low sets SimCLR pretraining; with --encoder there is none');
  if (detectorName !== 'gssd' && given(fitRowsPerClass)) throw new UsageError(`--fit-rows-per-class samples the rows of GSSD's flow fit; --detector ${detectorName} fits no flows`);
  return {
    inputs,
    out: out.read(values),
    runDir: runDir.read(values),
    source: SOURCE_OPTIONS.read(values),
    encoder: encoder.read(values),
    embedRuntime: embedRuntime.read(values),
    scoreRuntime: scoreRuntime.read(values),
    pretrainEpochs: pretrainEpochs.read(values),
    pretrainBatch: batch,
    simclrShards: shardsOf(values, batch),
    ...TRAIN_ENGINE_OPTIONS.read(values),
    ...(memory === 'low' ? { memory } : {}),
    width: width.read(values),
    flowEpochs: flowEpochs.read(values),
    flowBatch: flowBatch.read(values),
    flowLr: flowLr.read(values),
    flowWorkers: flowWorkers.read(values),
    fitRowsPerClass: fitRowsPerClass.read(values),
    targetDetection: detection,
    robustAlpha: robustAlpha.read(values),
    robustNDScale: robustNDScale.read(values),
    detector: detectorName,
    knnK: knnK.read(values),
    cut: cutMode,
    relabelMargin: relabelMargin.read(values),
    lambda: lambda.read(values),
    betaD: betaD.read(values),
    betaND: betaND.read(values),
    alphaClean: clean,
    alphaPoison: poison,
    seed: seed.read(values),
    backend: backend.read(values),
    resume: resume.read(values),
    force: force.read(values),
    partRows: partRows.read(values),
    checkpointRows: checkpointRows.read(values),
    keepWork: keepWork.read(values),
    onDuplicateId: onDuplicateId.read(values),
  };
}

/** `--simclr-shards`, at most one shard per image of the SimCLR batch. */
function shardsOf(values: Values, batchSize: number): number {
  const shards = simclrShards.read(values);
  return shards <= batchSize ? shards : intOption(values['simclr-shards'] as string, '--simclr-shards', { min: 1, max: batchSize });
}

import type { TrainMemory } from '../../src/models/onnx-simclr-graph.js';
import type { BackendName } from '../../src/models/backend.js';
import type { TrainRuntimeRequest } from '../../src/models/simclr-engine.js';
import type { OnnxProviderRequest } from '../../src/models/onnx-session.js';
import { UsageError } from '../../src/errors.js';
import { DEFAULT_DETECTION_OPTIONS, type NDScale, type TargetDetectionMode } from '../../src/detect/options.js';
import type { CutMode } from '../../src/detect/split-thresholds.js';
import type { DetectorName } from './baseline-pass.js';
import type { EmbedRuntime } from './open-encoder.js';
import type { ScoreRuntime } from '../../src/models/flow-scorer.js';
import { resolveSource, type SourceOption, type SourceSettings } from '../../src/io/source-settings.js';
import type { ColumnsOption } from '../../src/io/columns.js';
import type { CleanseState } from './state.js';

/**
 * Everything a cleanse run is configured by. Defaults are docs/method.md's reference values, except
 * target detection (robust, from `DEFAULT_DETECTION_OPTIONS`) and the cut (adaptive), which
 * bench:efficacy chose (README, "Target detection").
 */
export interface CleanseOptions {
  inputs: string[];
  out: string;
  source: SourceSettings;
  /** A saved gssd encoder directory; without it the run pretrains one (SimCLR). */
  encoder?: string;
  /** Runtime of the embed pass: ONNX Runtime (auto's choice for gssd encoders) or TF.js. */
  embedRuntime: EmbedRuntime;
  /** Runtime of the score pass: ONNX Runtime (auto's choice) or TF.js. */
  scoreRuntime: ScoreRuntime;
  pretrainEpochs: number;
  pretrainBatch: number;
  /** What trains the encoder when the run pretrains one: `auto` (onnx), `onnx` or `tfjs`; a resumed run keeps its own. */
  trainRuntime?: TrainRuntimeRequest;
  /** onnx training runtime: `auto`, `cpu` or `cuda`. Default auto. */
  device?: OnnxProviderRequest;
  /** onnx training runtime on the CPU: intra-op threads (default the CPU count; recorded, a resume keeps it). */
  threads?: number;
  /** Shards of each SimCLR batch on the wasm/cpu backends (see `PretrainSettings`). Default 2. */
  simclrShards?: number;
  /** onnx training runtime: `low` pretrains one view at a time (`TrainMemory`). Default fast. */
  memory?: TrainMemory;
  width: number;
  flowEpochs: number;
  flowBatch: number;
  flowLr: number;
  /**
   * Fit each class's flow on a seeded sample of about this many of its rows (`FitSample`); every
   * row is still embedded, scored and routed. Default: every row (no sampling).
   */
  fitRowsPerClass?: number;
  /** Worker threads training the flows (bit-identical for any count); default: the CPU count on the single-threaded wasm/cpu backends, 1 on tensorflow. */
  flowWorkers?: number;
  alphaClean: number;
  alphaPoison: number;
  lambda: number;
  betaD: number;
  betaND: number;
  targetDetection: TargetDetectionMode;
  /** False-alarm level of robust detection per dataset (Bonferroni over the classes); default 0.2. */
  robustAlpha?: number;
  /** Robust ND-test scale: `log` (default) or `linear` (see `DetectionOptions.robustNDScale`). */
  robustNDScale?: NDScale;
  /** GSSD, or a baseline detector on the same embeddings (for comparison). */
  detector: DetectorName;
  /** --detector knn: neighbours per row (default 50). */
  knnK?: number;
  /** How a flagged class is split: the paper's fixed alpha fractions, or a 2-component mixture fit of its scores. */
  cut: CutMode;
  /**
   * ND-flagged classes: relabel a row of the poisoned cut only when the best other class's flow
   * beats its own by more than this (per-dimension log-likelihood; `SplitThresholds.relabelMargin`);
   * the other rows of the cut go to uncertain. Null: relabel every row of the cut (the paper). Default 0.
   */
  relabelMargin: number | null;
  seed: number;
  backend: BackendName;
  resume: boolean;
  force: boolean;
  /** Rows per output part file. */
  partRows: number;
  /** Rows between checkpoints in the streaming passes. */
  checkpointRows: number;
  /** Keep DIR/work (embedding cache, likelihood matrix) after a successful run. */
  keepWork: boolean;
  /** Rows repeating an earlier row's id: `warn` (the default: counted, reported, kept) or `error` (an input error after the embed pass). */
  onDuplicateId?: 'warn' | 'error';
  /**
   * With an `s3://bucket/prefix` out: the local run directory (checkpoint, work files, parts not
   * yet uploaded); default `<tmp>/gssd-runs/<hash of the URI>`. A resume needs the same one.
   */
  runDir?: string;
  /** Called after each checkpoint commit with the committed state (the s3:// output uploads the committed parts). */
  onCommit?: (state: CleanseState) => Promise<void>;
  /**
   * Stops the run: it throws the signal's reason at the next row batch, training step or
   * checkpoint, and what is committed stays, so `resume: true` continues it (same output).
   */
  signal?: AbortSignal;
}

/**
 * A cleanse as a library caller asks for it: `inputs` and `out`, anything else optional
 * (`CLEANSE_DEFAULTS`, `SOURCE_DEFAULTS`; `resume`, `force`, `keepWork` false). `columns`
 * is the same option `readBatches` and `decode` take.
 */
export type CleanseRequest = Partial<Omit<CleanseOptions, 'inputs' | 'out' | 'source'>> & {
  inputs: string[];
  out: string;
  source?: SourceOption;
  columns?: ColumnsOption;
};

/**
 * The full options of a request, defaults filled in.
 *
 * @example
 *   const o = cleanseOptions({ inputs: ['train.parquet'], out: 'run', columns: { image: 'img' } });
 */
export function cleanseOptions(r: CleanseRequest): CleanseOptions {
  const given = Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as CleanseRequest;
  const n = given.fitRowsPerClass;
  if (n !== undefined && !(Number.isInteger(n) && n >= 1)) throw new UsageError(`Expected \`fitRowsPerClass\` to be an integer from 1 and up, got \`${n}\``);
  return { ...CLEANSE_DEFAULTS, resume: false, force: false, keepWork: false, ...given, source: resolveSource(r.source, r.columns) };
}

export const CLEANSE_DEFAULTS = {
  pretrainEpochs: 10,
  pretrainBatch: 256,
  simclrShards: 2,
  width: 16,
  flowEpochs: 50,
  flowBatch: 16,
  flowLr: 1e-3,
  alphaClean: 0.3,
  alphaPoison: 0.15,
  lambda: DEFAULT_DETECTION_OPTIONS.lambda,
  betaD: DEFAULT_DETECTION_OPTIONS.betaD,
  betaND: DEFAULT_DETECTION_OPTIONS.betaND,
  targetDetection: DEFAULT_DETECTION_OPTIONS.mode,
  robustAlpha: DEFAULT_DETECTION_OPTIONS.robustAlpha,
  robustNDScale: DEFAULT_DETECTION_OPTIONS.robustNDScale,
  cut: 'adaptive' as CutMode,
  relabelMargin: 0 as number | null,
  detector: 'gssd' as DetectorName,
  knnK: 50,
  embedRuntime: 'auto' as EmbedRuntime,
  scoreRuntime: 'auto' as ScoreRuntime,
  seed: 0,
  backend: 'auto' as BackendName,
  partRows: 100_000,
  checkpointRows: 10_000,
} as const;

/**
 * The options that decide the output: a resumed run must have the same ones, or its
 * output would be a mix of two runs.
 */
export function outputFingerprint(o: CleanseOptions): Record<string, unknown> {
  return {
    inputs: o.inputs,
    columns: o.source.columns,
    imageSize: o.source.imageSize,
    numClasses: o.source.numClasses ?? null,
    batchRows: o.source.batchRows,
    encoder: o.encoder ?? null,
    pretrainEpochs: o.encoder ? null : o.pretrainEpochs,
    pretrainBatch: o.encoder ? null : o.pretrainBatch,
    simclrShards: o.encoder ? null : (o.simclrShards ?? CLEANSE_DEFAULTS.simclrShards),
    width: o.encoder ? null : o.width,
    // only when low: runs without it (and their checkpoints) keep the fingerprint they had
    ...(o.memory === 'low' && !o.encoder ? { memory: 'low' } : {}),
    flowEpochs: o.flowEpochs,
    flowBatch: o.flowBatch,
    flowLr: o.flowLr,
    // only when given: runs without it (and their checkpoints) keep the fingerprint they had
    ...(o.fitRowsPerClass !== undefined ? { fitRowsPerClass: o.fitRowsPerClass } : {}),
    alphaClean: o.alphaClean,
    alphaPoison: o.alphaPoison,
    lambda: o.lambda,
    betaD: o.betaD,
    betaND: o.betaND,
    targetDetection: o.targetDetection,
    // robust mode only: paper-mode runs checkpointed before the option existed still resume
    ...(o.targetDetection === 'robust'
      ? { robustAlpha: o.robustAlpha ?? CLEANSE_DEFAULTS.robustAlpha, robustNDScale: o.robustNDScale ?? CLEANSE_DEFAULTS.robustNDScale }
      : {}),
    cut: o.cut,
    relabelMargin: o.relabelMargin,
    detector: o.detector,
    ...(o.detector === 'knn' ? { knnK: o.knnK ?? CLEANSE_DEFAULTS.knnK } : {}),
    seed: o.seed,
    partRows: o.partRows,
    checkpointRows: o.checkpointRows,
  };
}

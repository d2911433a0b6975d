import type { InputPin } from '../../src/io/input-pins.js';
import type { BaselineModel } from './baseline-pass.js';
import type { DuplicateIds } from '../../src/io/duplicate-ids.js';
import type { PretrainProgress } from '../pretrain.js';
import type { DetectionReport } from '../../src/detect/detection-report.js';
import type { SplitThresholds } from '../../src/detect/split-thresholds.js';
import type { ExtremeRow, ScoreSummary } from '../../src/detect/score-summary.js';

/** A row at an end of a flagged class's score order, with what the route pass learnt of it. */
export interface ViewRow extends ExtremeRow {
  /** Global input row index and id (as text), set when the route pass reaches the row. */
  row?: number;
  id?: string;
  /** File name of its thumbnail (PNG) under DIR/checkpoint/thumbs, or null when it could not be made. */
  thumb?: string | null;
}

/** What report.html shows of a flagged class's scores. */
export interface ScoreView extends ScoreSummary {
  lowest: ViewRow[];
  highest: ViewRow[];
}

/** The passes of a cleanse run, in order. */
export const PASSES = ['pretrain', 'embed', 'fit', 'score', 'detect', 'baseline', 'route', 'done'] as const;
export type PassName = (typeof PASSES)[number];

/** Output splits, each a directory of Parquet parts under the run directory. */
export const SPLITS = ['clean', 'poisoned', 'uncertain', 'rejected'] as const;
export type SinkName = (typeof SPLITS)[number];

/** Wall time and peak RSS of one pass (summed over resumed segments for time). */
export interface PassCost {
  seconds: number;
  peakRssMB: number;
  rows?: number;
}

/**
 * The checkpoint of a cleanse run (DIR/checkpoint/state.json). Every field is what the last
 * committed point of the run had; a resumed run continues from it.
 */
export interface CleanseState {
  version: 1;
  gssdVersion: string;
  fingerprint: Record<string, unknown>;
  backend: string;
  pass: PassName;
  totalRows: number;
  /** What the inputs were when the run started (a resume refuses changed inputs); absent in older checkpoints. */
  inputPins?: InputPin[];
  /** Directory of the encoder used (the user's, or DIR/checkpoint/encoder once pretrained). */
  encoderDir: string | null;
  featureDim: number | null;
  /** The runtime the embed pass used (onnx-cpu, tfjs-wasm, ...): a resume must use the same. */
  embedRuntime: string | null;
  /** The runtime the score pass used (onnx-cpu, tfjs, ...), once it started; absent in older checkpoints. */
  scoreRuntime?: string | null;
  pretrain: PretrainProgress | null;
  /** The training runtime and CPU threads of the pretrain pass, once it started (absent in older checkpoints: tfjs). */
  pretrainEngine?: { trainRuntime: 'onnx' | 'tfjs'; threads: number; describe?: string } | null;
  embed: {
    rowsDone: number;
    rejected: number;
    /** Running mean/variance of h (Welford). */
    stats: { dim: number; count: number; mean: number[]; m2: number[] } | null;
    labelCounts: number[];
  };
  /** Duplicate ids counted at the end of the embed pass; null when not counted (a run resumed from a checkpoint of an older gssd). */
  duplicateIds?: DuplicateIds | null;
  numClasses: number | null;
  /**
   * `rowsFitted`: with `fitRowsPerClass`, the rows of each class in the fit sample (what its flow
   * sees per epoch), counted once when the fit pass starts (while it writes DIR/work/
   * fit-sample.f32); absent without sampling.
   */
  fit: { epochsDone: number; rowsFitted?: number[] };
  score: { rowsDone: number };
  detection: DetectionReport | null;
  thresholds: SplitThresholds | null;
  /** Per flagged class: histogram of gssd_score and the rows at both ends (absent in older checkpoints). */
  scoreViews?: ScoreView[] | null;
  /** --detector knn: rows done (in DIR/work/knn.f32) and per-class row and removal counts so far. */
  knn?: { rowsDone: number; n: number[]; removed: number[] } | null;
  /** The fitted baseline detector (with --detector spectral|activation-clustering|knn). */
  baseline: BaselineModel | null;
  route: {
    rowsDone: number;
    eligibleDone: number;
    parts: Record<SinkName, number>;
    counts: Record<SinkName, number>;
    /** Rows per label and split (columns in SPLITS order); rejected rows without a usable label count in `noLabel`. Absent in older checkpoints. */
    byClass?: number[][];
    noLabel?: Record<SinkName, number>;
  };
  costs: Partial<Record<PassName, PassCost>>;
  /** Wall seconds of the earlier segments of a resumed run, up to their last commit (absent in older checkpoints). */
  elapsedSeconds?: number;
}

export function initialState(fingerprint: Record<string, unknown>, backend: string, totalRows: number, gssdVersion: string): CleanseState {
  return {
    version: 1,
    gssdVersion,
    fingerprint,
    backend,
    pass: 'pretrain',
    totalRows,
    encoderDir: null,
    featureDim: null,
    embedRuntime: null,
    pretrain: null,
    embed: { rowsDone: 0, rejected: 0, stats: null, labelCounts: [] },
    numClasses: null,
    fit: { epochsDone: 0 },
    score: { rowsDone: 0 },
    detection: null,
    thresholds: null,
    baseline: null,
    route: {
      rowsDone: 0,
      eligibleDone: 0,
      parts: { clean: 0, poisoned: 0, uncertain: 0, rejected: 0 },
      counts: { clean: 0, poisoned: 0, uncertain: 0, rejected: 0 },
    },
    costs: {},
  };
}

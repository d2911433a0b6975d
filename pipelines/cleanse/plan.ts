import { RunPlan } from '../../src/run-plan.js';
import type { CleanseOptions } from './options.js';
import type { CleanseState } from './state.js';
import { fitEpochRows } from './fit-pass.js';

/**
 * Cost of one unit of each pass relative to embedding one row, on the default runtimes (ONNX
 * Runtime on a 2-core CPU, width 16, 3,000 CIFAR-10 rows, one run: pretrain 8.3 row-epochs/s,
 * embed 312 rows/s, fit 1,630 row-epochs/s, score 4,400 rows/s with its setup, route 4,300
 * rows/s). Only their ratios matter; they move with the width and the runtimes.
 */
export const PASS_WEIGHTS = { pretrain: 35, embed: 1, fit: 0.2, score: 0.07, baseline: 0.1, route: 0.07 } as const;

/**
 * The passes a cleanse run goes through and their estimated work: pretrain (without an
 * encoder) dominates, so the whole-run ETA its progress lines show is mostly its own.
 *
 * @example
 *   const log2 = withPlan(log, cleansePlan(options, state));
 */
export function cleansePlan(options: CleanseOptions, state: CleanseState): RunPlan {
  const rows = state.totalRows;
  const W = PASS_WEIGHTS;
  const passes = [];
  if (!options.encoder) passes.push({ pass: 'pretrain', units: rows * options.pretrainEpochs, weight: W.pretrain });
  passes.push({ pass: 'embed', units: rows, weight: W.embed });
  if (options.detector === 'gssd') {
    passes.push({ pass: 'fit', units: fitPlanRows(options, state) * options.flowEpochs, weight: W.fit }, { pass: 'score', units: rows, weight: W.score });
  } else {
    passes.push({ pass: 'baseline', units: rows, weight: W.baseline });
  }
  passes.push({ pass: 'route', units: rows, weight: W.route });
  return new RunPlan(passes);
}

/**
 * Rows per fit epoch, as far as they are known: every row; with `fitRowsPerClass` N the fit
 * sample's count once the fit pass counted it, sum_c min(n_c, N) after the embed pass, or
 * min(rows, N x classes) before it (rows when the class count is not given).
 */
function fitPlanRows(options: CleanseOptions, state: CleanseState): number {
  const N = options.fitRowsPerClass;
  if (N === undefined) return state.totalRows;
  if (state.fit.rowsFitted) return fitEpochRows(state);
  if (state.numClasses !== null) return state.embed.labelCounts.reduce((s, n) => s + Math.min(n ?? 0, N), 0);
  const K = options.source.numClasses;
  return K ? Math.min(state.totalRows, N * K) : state.totalRows;
}

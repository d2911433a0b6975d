import { UsageError } from '../errors.js';
import { DTestAccumulator, dTestDecision, type DTestHistogram, type LowTail } from './d-test.js';
import type { ClassDetection, DetectionReport, FlaggingTest } from './detection-report.js';
import { checkChunk, type ChunkReader } from './likelihood-chunk.js';
import { NDTestAccumulator, type NDStatistic } from './nd-test.js';
import { detectionOptions, type DetectionOptions } from './options.js';
import { outlierScores, type OutlierScore } from './robust-outlier.js';

/**
 * Target-class detection over a re-readable stream of likelihood chunks, in two passes
 * (pass 1: class sizes, range of u, ND sums; pass 2: D-test histograms). Constant memory.
 * Checks every chunk (labels in [0, K), finite values) and throws `InputError` on bad rows.
 *
 * @example
 *   const report = await detectTargets(() => readLikelihoods(file), 10, { mode: 'robust' });
 *   report.flagged; // [{ label: 0, test: 'ND' }]
 */
export async function detectTargets(
  read: ChunkReader,
  K: number,
  options: Partial<DetectionOptions> = {},
): Promise<DetectionReport> {
  if (!Number.isInteger(K) || K < 2) throw new UsageError(`Expected \`K\` (classes) to be an integer from 2 and up, got \`${K}\``);
  const opts = detectionOptions(options);
  const d = new DTestAccumulator(K, opts.bins);
  const nd = new NDTestAccumulator(K);
  let rows = 0;
  for await (const chunk of read()) {
    checkChunk(chunk, K, rows);
    d.addRange(chunk);
    nd.add(chunk);
    rows += chunk.n;
  }
  d.beginCounting();
  for await (const chunk of read()) d.addCounts(chunk);
  return decideDetection(d.histograms(), nd.statistics(), opts, d.lowTails(opts.robustLowQuantile));
}

/**
 * The detection decision from finished per-class statistics (pure).
 *
 * paper mode (docs/method.md, step 5): D-test per class; ND-test (statistic < beta_ND) on the classes
 * the D-test did not flag.
 *
 * robust mode (K >= 3; K < 3 falls back to paper mode, noted in the report): the absolute
 * thresholds are replaced by outlier tests across classes, `outlierScores` (leave-one-out
 * mean and sd of the other classes, index compared with a Student-t quantile at family-wise
 * level `robustAlpha`, default 0.1):
 * - D: statistic = share of the class's rows whose u lies below the `robustLowQuantile` (0.01)
 *   of comparable rows of the other classes (`DTestAccumulator.lowTails`); flag a class when
 *   the statistic exceeds beta_D and is a high outlier (sd floor `robustMinScaleD` = 0.05).
 * - ND: on the classes D did not flag, flag a class when its ND statistic is a low outlier
 *   against the other classes D did not flag, on the scale `robustNDScale` (`robustNDScores`).
 * When all classes are alike (spread below the floors) nothing is flagged.
 *
 * @example
 *   const report = decideDetection(dAcc.histograms(), ndAcc.statistics(), opts, dAcc.lowTails(opts.robustLowQuantile));
 */
export function decideDetection(
  hists: readonly DTestHistogram[],
  ndStats: readonly NDStatistic[],
  options: DetectionOptions,
  lowTails?: readonly LowTail[],
): DetectionReport {
  const K = hists.length;
  const notes: string[] = [];
  let mode = options.mode;
  if (mode === 'robust' && K < 3) {
    mode = 'paper';
    notes.push(`robust detection needs K >= 3 classes to compare against, K = ${K}: used paper mode`);
  }
  const dResults = hists.map((h) => dTestDecision(h, options.lambda, options.betaD));
  const dFlag: boolean[] = new Array(K).fill(false);
  if (mode === 'robust' && !lowTails) throw new Error('decideDetection: robust mode needs the low-tail statistics');
  const dRobust = mode === 'robust' && lowTails ? lowTails : null;
  const untested: OutlierScore = { index: null, critical: null, outlier: false };
  let dScores: OutlierScore[] = hists.map(() => untested);
  if (mode === 'paper') {
    for (let c = 0; c < K; c++) dFlag[c] = dResults[c].flagged;
  } else if (dRobust) {
    const empty = new Set(hists.filter((h) => h.n === 0).map((h) => h.label));
    dScores = outlierScores(dRobust.map((r) => r.statistic), 1, { alpha: options.robustAlpha, minScale: options.robustMinScaleD, exclude: empty });
    for (let c = 0; c < K; c++) dFlag[c] = dScores[c].outlier && dRobust[c].statistic > options.betaD;
  }
  const dFlagged = new Set<number>();
  dFlag.forEach((f, c) => f && dFlagged.add(c));
  const ndScores: OutlierScore[] = mode === 'robust' ? robustNDScores(ndStats, options, dFlagged) : hists.map(() => untested);
  if (mode === 'robust' && K - dFlagged.size < 3) {
    notes.push(`robust ND-test needs 3 classes not flagged by the D-test, ${K - dFlagged.size} left: ND-test not applied`);
  }

  const classes: ClassDetection[] = [];
  const flagged: { label: number; test: FlaggingTest }[] = [];
  for (let c = 0; c < K; c++) {
    const stat = ndStats[c].statistic;
    const evaluated = !dFlag[c];
    const paperFlag = stat !== null && stat < options.betaND;
    let flaggedBy: FlaggingTest | null = null;
    if (dFlag[c]) flaggedBy = 'D';
    else if (mode === 'paper' ? paperFlag : ndScores[c].outlier) flaggedBy = 'ND';
    if (flaggedBy) flagged.push({ label: c, test: flaggedBy });
    classes.push({
      label: c,
      n: hists[c].n,
      dTest: dResults[c],
      dRobust: dRobust ? { ...dRobust[c], index: dScores[c].index, critical: dScores[c].critical } : null,
      ndTest: { statistic: stat, nOther: ndStats[c].nOther, evaluated, paperFlag, index: ndScores[c].index, critical: ndScores[c].critical },
      flaggedBy,
    });
  }
  if (flagged.length === 0) notes.push('no class flagged (which does not show that the data is clean: see the statistics nearest to a flag)');
  return {
    requestedMode: options.mode,
    mode,
    K,
    nRows: hists.reduce((a, h) => a + h.n, 0),
    options,
    classes,
    flagged,
    clean: flagged.length === 0,
    notes,
  };
}

/**
 * Robust ND-test indices: each class's ND statistic against the other classes (not D-flagged)
 * as a low outlier (`outlierScores`). On the `log` scale (default) the values compared are
 * ln(max(statistic, robustNDFloor)) with spread floor `robustMinScaleNDLog`: the statistics are
 * positive, right-skewed across classes (a strong encoder gives 1.5-7 nats/dim on clean
 * CIFAR-10), and one very distinct class on the high side would otherwise widen the spread
 * that hides a target near 0. On the `linear` scale: the statistics, floor `robustMinScaleND`.
 *
 * @example
 *   robustNDScores(ndAcc.statistics(), detectionOptions(), new Set())[0]; // { index: 8.2, critical: 2.45, outlier: true }
 */
export function robustNDScores(ndStats: readonly NDStatistic[], options: DetectionOptions, exclude: ReadonlySet<number>): OutlierScore[] {
  const log = options.robustNDScale === 'log';
  const values = ndStats.map((s) => (s.statistic === null ? null : log ? Math.log(Math.max(s.statistic, options.robustNDFloor)) : s.statistic));
  const minScale = log ? options.robustMinScaleNDLog : options.robustMinScaleND;
  return outlierScores(values, -1, { alpha: options.robustAlpha, minScale, exclude });
}

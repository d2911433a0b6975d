import { UsageError } from '../errors.js';

/** How target classes are decided: the paper's absolute thresholds, or outliers among classes. */
export type TargetDetectionMode = 'paper' | 'robust';

/** The scale the robust ND-test compares classes on: ln of the statistic (default), or the statistic itself. */
export type NDScale = 'log' | 'linear';

/** Options of target-class detection (docs/method.md, step 5). */
export interface DetectionOptions {
  /** `paper` (absolute thresholds) or `robust` (outlier against the other classes). Default `robust` (measured: bench/results/efficacy-10k-w16*.md). */
  mode: TargetDetectionMode;
  /** D-test: bins of the histogram of u. Default 30. */
  bins: number;
  /** D-test: only edges below lambda bound the valley search. Default 0.75. */
  lambda: number;
  /** D-test: the low mode must hold more than beta_D of the class. Default 0.05. */
  betaD: number;
  /** ND-test: flag when -mean of L[i,c] over other-class rows is below beta_ND. Default 0.6. */
  betaND: number;
  /** Robust mode: family-wise false-alarm level of the outlier test across classes. Default 0.2. */
  robustAlpha: number;
  /** Robust mode: a row is "low" when its u is below this quantile of the reference rows (see `DTestAccumulator.lowTails`). Default 0.01. */
  robustLowQuantile: number;
  /**
   * Robust mode: the scale of the ND comparison. `log` (default): ln(max(statistic, `robustNDFloor`)),
   * so one class far above the rest (a very distinct class) does not widen the spread the
   * target is measured against (measured: bench/results/efficacy.md, "Detection on a log scale").
   * `linear`: the statistic in nats/dim (gssd 0.x before the change).
   */
  robustNDScale: NDScale;
  /** Robust mode, log scale: statistics below this (nats/dim) count as this before the log. Default 0.01. */
  robustNDFloor: number;
  /** Robust mode: floor of the ND spread, in nats per dimension on the linear scale. Default 0.01. */
  robustMinScaleND: number;
  /** Robust mode: floor of the ND spread on the log scale (a relative spread: 0.05 = 5%). Default 0.05. */
  robustMinScaleNDLog: number;
  /**
   * Robust mode: floor of the D spread, as a fraction of the class. Default 0.05: on clean
   * CIFAR-10 a strong (supervised) encoder puts 10-11% of one very distinct class (automobile)
   * in the low tail, which the earlier floor of 0.02 flagged; with 0.05 a class needs about 13%
   * of its rows there (a D-type attack at 10% puts about 47%).
   */
  robustMinScaleD: number;
}

/** Robust detection at alpha 0.2, with docs/method.md's thresholds (lambda 0.75, beta_D 0.05, beta_ND 0.6, 30 bins) for paper mode. */
export const DEFAULT_DETECTION_OPTIONS: Readonly<DetectionOptions> = Object.freeze({
  mode: 'robust',
  bins: 30,
  lambda: 0.75,
  betaD: 0.05,
  betaND: 0.6,
  robustAlpha: 0.2,
  robustLowQuantile: 0.01,
  robustNDScale: 'log',
  robustNDFloor: 0.01,
  robustMinScaleND: 0.01,
  robustMinScaleNDLog: 0.05,
  robustMinScaleD: 0.05,
});

/**
 * Defaults filled in and every option checked; throws `UsageError` in the project's pattern.
 *
 * @example
 *   const opts = detectionOptions({ mode: 'robust' });
 */
export function detectionOptions(partial: Partial<DetectionOptions> = {}): DetectionOptions {
  const o: DetectionOptions = { ...DEFAULT_DETECTION_OPTIONS };
  for (const [key, value] of Object.entries(partial)) {
    if (value !== undefined) (o as unknown as Record<string, unknown>)[key] = value;
  }
  if (o.mode !== 'paper' && o.mode !== 'robust') {
    throw new UsageError(`Expected \`--target-detection\` to be \`paper\` or \`robust\`, got \`${String(o.mode)}\``);
  }
  if (!Number.isInteger(o.bins) || o.bins < 2) {
    throw new UsageError(`Expected \`bins\` to be an integer from 2 and up, got \`${o.bins}\``);
  }
  for (const key of ['lambda', 'betaND'] as const) {
    if (!Number.isFinite(o[key])) throw new UsageError(`Expected \`${key}\` to be a finite number, got \`${o[key]}\``);
  }
  if (!(o.betaD >= 0 && o.betaD < 1)) throw new UsageError(`Expected \`betaD\` to be a number in [0, 1), got \`${o.betaD}\``);
  if (!(o.robustAlpha > 0 && o.robustAlpha < 1)) throw new UsageError(`Expected \`robustAlpha\` to be a number in (0, 1), got \`${o.robustAlpha}\``);
  if (o.robustNDScale !== 'log' && o.robustNDScale !== 'linear') {
    throw new UsageError(`Expected \`--robust-nd-scale\` to be \`log\` or \`linear\`, got \`${String(o.robustNDScale)}\``);
  }
  for (const key of ['robustMinScaleND', 'robustMinScaleNDLog', 'robustMinScaleD', 'robustNDFloor'] as const) {
    if (!(o[key] > 0 && Number.isFinite(o[key]))) throw new UsageError(`Expected \`${key}\` to be a positive number, got \`${o[key]}\``);
  }
  if (!(o.robustLowQuantile > 0 && o.robustLowQuantile < 1)) {
    throw new UsageError(`Expected \`robustLowQuantile\` to be a number in (0, 1), got \`${o.robustLowQuantile}\``);
  }
  return o;
}

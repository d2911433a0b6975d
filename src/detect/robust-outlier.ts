import { studentTQuantile } from './student-t.js';

/** The outlier test of one entry against the others. */
export interface OutlierScore {
  /** direction * (value - mean of others) / (max(sd of others, minScale) * sqrt(1 + 1/n_others)); null if not tested. */
  index: number | null;
  /** The t quantile the index must exceed (Bonferroni over the tested entries); null if not tested. */
  critical: number | null;
  outlier: boolean;
}

/**
 * Leave-one-out prediction-interval outlier test across classes, usable for any K >= 3:
 * entry i is compared with the n = (tested entries - 1) others. If the others were a normal
 * sample, (x_i - mean) / (sd * sqrt(1 + 1/n)) would follow Student's t with n - 1 degrees of
 * freedom, so entry i is an outlier (on the side `direction`: +1 high, -1 low) when its index
 * exceeds the 1 - alpha / m quantile of t(n - 1), m = number of tested entries (Bonferroni:
 * at most alpha false alarms per dataset under that null). Leaving the entry out keeps a
 * single outlier from inflating its own reference; the sd is floored at `minScale` so classes
 * that are all alike (sd ~ 0) never produce a flag from tiny differences.
 * Null entries and indices in `exclude` are neither tested nor used as references.
 *
 * Why not median/MAD: with ~10 classes the MAD of 9 values is so noisy that a 3.5 cut flags
 * one class of pure-noise statistics about 16% of the time (simulated), and it is not
 * calibrated per K; the t test is (alpha at any K).
 *
 * @example
 *   outlierScores([0.29, 0.45, 0.5, 0.52, 0.55, 0.58, 0.6, 0.65, 0.7, 0.72], -1, { alpha: 0.1, minScale: 0.01 })[0];
 *   // { index: 3.068, critical: 2.896, outlier: true }
 */
export function outlierScores(
  values: readonly (number | null)[],
  direction: 1 | -1,
  options: { alpha: number; minScale: number; exclude?: ReadonlySet<number> },
): OutlierScore[] {
  const exclude = options.exclude ?? new Set<number>();
  const tested = values.map((v, i) => v !== null && !exclude.has(i));
  const m = tested.filter(Boolean).length;
  const none: OutlierScore = { index: null, critical: null, outlier: false };
  if (m < 3) return values.map(() => ({ ...none }));
  const n = m - 1;
  const critical = studentTQuantile(1 - options.alpha / m, n - 1);
  return values.map((v, i) => {
    if (!tested[i] || v === null) return { ...none };
    let sum = 0;
    for (let j = 0; j < values.length; j++) if (j !== i && tested[j]) sum += values[j] as number;
    const mean = sum / n;
    let ss = 0;
    for (let j = 0; j < values.length; j++) if (j !== i && tested[j]) ss += ((values[j] as number) - mean) ** 2;
    const sd = Math.sqrt(ss / (n - 1));
    const index = (direction * (v - mean)) / (Math.max(sd, options.minScale) * Math.sqrt(1 + 1 / n));
    return { index, critical, outlier: index > critical };
  });
}

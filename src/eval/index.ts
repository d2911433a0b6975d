/**
 * Evaluation of a cleanse against ground truth (docs/method.md, "Metrics").
 *
 * @example
 *   const acc = new SplitMetricsAccumulator(); rows.forEach((r) => acc.add(r)); acc.result();
 *   detectionMetrics(report.flagged.map((f) => f.label), 0);
 */
export * from './split-metrics.js';
export * from './detection-metrics.js';
export * from './score-separation.js';

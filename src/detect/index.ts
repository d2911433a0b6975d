/**
 * Target-class detection (docs/method.md, step 5) and the per-row clean / poisoned / uncertain
 * split (step 6), streaming over a re-readable likelihood matrix.
 *
 * @example
 *   const report = await detectTargets(read, K, { mode: 'paper' });
 *   const thresholds = await computeSplitThresholds(read, report, { alphaClean: 0.3, alphaPoisoned: 0.15 });
 *   for await (const chunk of read()) for (let i = 0; i < chunk.n; i++) splitRow(...);
 */
export * from './likelihood-chunk.js';
export * from './options.js';
export * from './histogram.js';
export * from './d-test.js';
export * from './nd-test.js';
export * from './student-t.js';
export * from './robust-outlier.js';
export * from './detection-report.js';
export * from './detect-targets.js';
export * from './sample-score.js';
export * from './select-rank.js';
export * from './split-thresholds.js';
export * from './split-row.js';
export * from './gaussian-mixture.js';
export * from './adaptive-thresholds.js';

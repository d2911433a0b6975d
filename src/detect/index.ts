/**
 * Target-class detection (METHOD.md step 5) and the per-row clean / poisoned / uncertain
 * split (step 6), streaming over a re-readable likelihood matrix.
 *
 * @example
 *   const report = await detectTargets(read, K, { mode: 'paper' });
 *   const thresholds = await computeSplitThresholds(read, report, { alphaClean: 0.3, alphaPoisoned: 0.15 });
 *   for await (const chunk of read()) for (let i = 0; i < chunk.n; i++) splitRow(...);
 */
export * from './likelihoodChunk.js';
export * from './options.js';
export * from './histogram.js';
export * from './dTest.js';
export * from './ndTest.js';
export * from './studentT.js';
export * from './robustOutlier.js';
export * from './detectionReport.js';
export * from './detectTargets.js';
export * from './sampleScore.js';
export * from './selectRank.js';
export * from './splitThresholds.js';
export * from './splitRow.js';
export * from './gaussianMixture.js';
export * from './adaptiveThresholds.js';

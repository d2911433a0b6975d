/**
 * Baseline poison detectors on the embedding cache, for comparison with GSSD: Spectral
 * Signatures (Tran et al. 2018) and Activation Clustering (Chen et al. 2018). Both stream the
 * cache a few times in bounded memory, return a plain-JSON model, and give a pure per-row verdict.
 *
 * @example
 *   const moments = await computeClassMoments(read, K, D);
 *   const spectral = await fitSpectral(read, K, D, { moments });
 *   const ac = await fitActivationClustering(read, K, D, { moments });
 *   spectralVerdict(spectral, row, label, rowIndex).removed || acVerdict(ac, row, label).removed;
 */
export * from './embeddingChunk.js';
export * from './embeddingCache.js';
export * from './symmetricEigen.js';
export * from './classMoments.js';
export * from './spectralSignatures.js';
export * from './activationClustering.js';

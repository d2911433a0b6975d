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
export * from './embedding-chunk.js';
export * from './embedding-cache.js';
export * from './symmetric-eigen.js';
export * from './class-moments.js';
export * from './spectral-signatures.js';
export * from './activation-clustering.js';

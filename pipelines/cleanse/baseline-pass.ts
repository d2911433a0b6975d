import { computeClassMoments } from '../../src/baselines/class-moments.js';
import { embeddingCacheReader } from '../../src/baselines/embedding-cache.js';
import { fitSpectral, spectralVerdict, type SpectralModel } from '../../src/baselines/spectral-signatures.js';
import { fitActivationClustering, acVerdict, type AcModel } from '../../src/baselines/activation-clustering.js';
import type { RowVerdict } from '../../src/stages/route.js';
import type { RunContext } from './context.js';
import { knnRowVerdict, type KnnModel } from '../../src/baselines/deep-knn.js';
import { knnPass } from './knn-pass.js';

/** The detectors `gssd cleanse --detector` offers: GSSD, or a baseline on the same embeddings. */
export type DetectorName = 'gssd' | 'spectral' | 'activation-clustering' | 'knn';

export type BaselineModel = SpectralModel | AcModel | KnnModel;

/**
 * The baseline detectors' pass (instead of fit, score and detect): Spectral Signatures (Tran et
 * al., 2018) or Activation Clustering (Chen et al., 2018) fitted on the embedding cache, in
 * bounded memory. The model (per-class means, directions, cuts) goes into the checkpoint; the
 * route pass then calls `baselineVerdict` per row.
 */
export async function baselinePass(ctx: RunContext): Promise<void> {
  const { options, state } = ctx;
  if (options.detector === 'knn') return knnPass(ctx);
  const D = state.featureDim!;
  const K = state.numClasses!;
  const read = embeddingCacheReader(ctx.files.embeddings, D);
  const moments = await computeClassMoments(read, K, D);
  const model =
    options.detector === 'spectral'
      ? await fitSpectral(read, K, D, { seed: options.seed, moments })
      : await fitActivationClustering(read, K, D, { seed: options.seed, moments });
  state.baseline = model;
  await ctx.commit();
  ctx.log.info('baseline done', { detector: options.detector, flagged: baselineFlagged(model), removed: model.totalRemoved });
}

/** The classes a baseline points at: AC's flagged classes, Spectral's suspected target. */
export function baselineFlagged(model: BaselineModel): number[] {
  return model.method === 'spectral-signatures' ? (model.suspectedTarget === null ? [] : [model.suspectedTarget]) : model.flagged;
}

/**
 * A row's verdict under a baseline: removed rows go to `poisoned` (not relabelled), the rest to
 * `clean`. `h` is the row's embedding, or for Deep k-NN its result row (agreement, plurality).
 */
export function baselineVerdict(model: BaselineModel, h: Float32Array, label: number, rowIndex: number): RowVerdict {
  const v =
    model.method === 'spectral-signatures' ? spectralVerdict(model, h, label, rowIndex) : model.method === 'deep-knn' ? knnRowVerdict(h, label) : acVerdict(model, h, label);
  const name = model.method;
  return v.removed
    ? { split: 'poisoned', score: v.score, loglik: null, pred: null, label: null, reason: `${name}: removed from class ${label}` }
    : { split: 'clean', score: v.score, loglik: null, pred: null, label, reason: `${name}: kept` };
}

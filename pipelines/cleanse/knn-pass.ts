import { embeddingCacheReader } from '../../src/baselines/embedding-cache.js';
import { knnBlock, knnDecision, knnRowVerdict, KNN_COLUMNS } from '../../src/baselines/deep-knn.js';
import { MatrixWriter } from '../../src/io/matrix-file.js';
import { Progress } from '../../src/progress.js';
import { RunningStats } from '../../src/stages/standardize.js';
import type { RunContext } from './context.js';
import { crashPoint } from '../../src/fault.js';
import { CLEANSE_DEFAULTS } from './options.js';

/** Query rows per block of the Deep k-NN pass at most (fewer with a smaller --checkpoint-rows); one checkpoint per block. */
export const KNN_BLOCK_ROWS = 1024;

/**
 * The Deep k-NN baseline's pass (`--detector knn`, instead of fit, score and detect): every
 * row's `--knn-k` nearest neighbours in the embedding cache (standardised, cosine), a block of
 * query rows at a time against the whole cache, in bounded memory. Per row [agreement,
 * plurality label, label] goes to DIR/work/knn.f32, which the route pass reads; the state
 * records the rows done and the per-class counts after every block, so a resume continues
 * with the next block. The model (removed shares, suspected targets) goes into the checkpoint.
 */
export async function knnPass(ctx: RunContext): Promise<void> {
  const { options, state } = ctx;
  const D = state.featureDim!;
  const K = state.numClasses!;
  const N = state.totalRows;
  const k = options.knnK ?? CLEANSE_DEFAULTS.knnK;
  const read = embeddingCacheReader(ctx.files.embeddings, D);
  const stats = RunningStats.fromJSON(state.embed.stats!);
  const scaling = { mean: stats.mean, std: stats.std() };
  const progressState = state.knn ?? { rowsDone: 0, n: new Array(K).fill(0), removed: new Array(K).fill(0) };
  const writer = await MatrixWriter.open(ctx.files.knn, KNN_COLUMNS, { keepRows: progressState.rowsDone });
  const progress = new Progress(ctx.log, 'knn', N);
  progress.skip(progressState.rowsDone);
  try {
    while (progressState.rowsDone < N) {
      const start = progressState.rowsDone;
      const end = Math.min(N, start + Math.min(KNN_BLOCK_ROWS, options.checkpointRows));
      const rows = await knnBlock(read, K, D, start, end, scaling, { k });
      for (let q = 0; q < end - start; q++) {
        const label = rows[q * KNN_COLUMNS + 2];
        if (label < 0) continue;
        progressState.n[label] += 1;
        if (knnRowVerdict(rows.subarray(q * KNN_COLUMNS, (q + 1) * KNN_COLUMNS), label).removed) progressState.removed[label] += 1;
      }
      await writer.append(rows);
      await writer.flush();
      progressState.rowsDone = end;
      state.knn = progressState;
      await ctx.commit();
      crashPoint('knn-block');
      progress.add(end - start);
    }
  } finally {
    await writer.close();
  }
  progress.done();
  state.baseline = knnDecision({ K, D, k, n: progressState.n, removed: progressState.removed, alpha: options.robustAlpha ?? CLEANSE_DEFAULTS.robustAlpha });
  await ctx.commit();
  ctx.log.info('baseline done', { detector: 'knn', flagged: state.baseline.flagged, removed: state.baseline.totalRemoved });
}

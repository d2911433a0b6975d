import type { FlowBank } from '../../src/models/flow-bank.js';
import { openFlowScorer, type FlowScorer } from '../../src/models/flow-scorer.js';
import { UsageError } from '../../src/errors.js';
import { MatrixWriter, readMatrix, type MatrixChunk } from '../../src/io/matrix-file.js';
import { embeddingColumns, likelihoodColumns, likelihoodRows, splitEmbeddingRows, trainableClasses } from '../../src/io/work-files.js';
import { scoreRows, type RowScoring } from '../../src/stages/score.js';
import { RunningStats } from '../../src/stages/standardize.js';
import { Progress } from '../../src/progress.js';
import type { RunContext } from './context.js';

/**
 * Pass 4a (docs/method.md, step 4): the likelihood matrix L[i, c] = l_c(z_i), row by row from the
 * embedding cache, to DIR/work/likelihood.f32, on ONNX Runtime or TF.js (`--score-runtime`;
 * a resumed run must use the runtime it started with), computed by the score stage's `scoreRows`.
 * Checkpointed every `checkpointRows` rows.
 */
export async function scorePass(ctx: RunContext, bank: FlowBank): Promise<void> {
  const scorer = await openFlowScorer(bank, ctx.options.scoreRuntime);
  try {
    if (ctx.state.scoreRuntime && ctx.state.scoreRuntime !== scorer.runtime) {
      throw new UsageError(`${ctx.options.out}: the run scored with ${ctx.state.scoreRuntime}, this one would use ${scorer.runtime}; resume with the same --score-runtime`);
    }
    ctx.state.scoreRuntime = scorer.runtime;
    ctx.log.info('score', { runtime: scorer.runtime });
    await scoreCache(ctx, scorer);
  } finally {
    await scorer.close();
  }
}

async function scoreCache(ctx: RunContext, scorer: FlowScorer): Promise<void> {
  const { options, state } = ctx;
  const d = state.featureDim!;
  const K = state.numClasses!;
  const stats = RunningStats.fromJSON(state.embed.stats!);
  const scoring: RowScoring = { scorer, stats, std: stats.std(), trainable: trainableClasses(state.embed.labelCounts, K) };
  const out = await MatrixWriter.open(ctx.files.likelihood, likelihoodColumns(K), { keepRows: state.score.rowsDone });
  const progress = new Progress(ctx.log, 'score', state.totalRows);
  progress.skip(state.score.rowsDone);
  let sinceCheckpoint = 0;
  try {
    for await (const chunk of readMatrix(ctx.files.embeddings, embeddingColumns(d), { start: state.score.rowsDone, chunkRows: 1024 })) {
      await out.append(await scoreChunk(chunk, d, scoring));
      state.score.rowsDone += chunk.n;
      sinceCheckpoint += chunk.n;
      progress.add(chunk.n);
      if (sinceCheckpoint >= options.checkpointRows) {
        await out.flush();
        await ctx.commit();
        sinceCheckpoint = 0;
      }
    }
    await out.flush();
    await ctx.commit();
  } finally {
    await out.close().catch(() => {});
  }
  progress.done();
}

/**
 * The likelihood-file rows (L[i, 0..K), then the label) of one chunk of embedding-cache rows:
 * every row scored by `scoreRows`, NaN likelihoods for rejected rows.
 *
 * @example
 *   await writer.append(await scoreChunk(chunk, 512, { scorer, stats, trainable }));
 */
export async function scoreChunk(chunk: MatrixChunk, d: number, scoring: RowScoring): Promise<Float32Array> {
  const { h, labels, n } = splitEmbeddingRows(chunk.rows, chunk.n, d);
  const L = await scoreRows(h, n, scoring);
  return likelihoodRows(L, labels, n, scoring.scorer.numClasses);
}

import type { FlowBank } from '../../src/models/flow-bank.js';
import { openFlowScorer, type FlowScorer } from '../../src/models/flow-scorer.js';
import { UsageError } from '../../src/errors.js';
import { MatrixWriter, readMatrix, type MatrixChunk } from '../../src/io/matrix-file.js';
import { RunningStats } from '../../src/stages/standardize.js';
import { Progress } from '../../src/progress.js';
import type { LikelihoodChunk } from '../../src/detect/likelihood-chunk.js';
import { cacheColumns } from './embed-pass.js';
import { trainableClasses } from './fit-pass.js';
import type { RunContext } from './context.js';

/**
 * Log-likelihood given to a class that has no flow (fewer than 2 rows): far below any real
 * value, so the class is never a row's prediction or relabel, yet finite for the statistics.
 */
export const NO_FLOW_LOGLIK = -1e4;

/** Columns of the likelihood file: L[i, 0..K), then the label (-1: rejected row). */
export function likelihoodColumns(numClasses: number): number {
  return numClasses + 1;
}

/**
 * Pass 4a (docs/method.md, step 4): the likelihood matrix L[i, c] = l_c(z_i), row by row from the
 * embedding cache, to DIR/work/likelihood.f32, on ONNX Runtime or TF.js (`--score-runtime`;
 * a resumed run must use the runtime it started with). Checkpointed every `checkpointRows` rows.
 */
export async function scorePass(ctx: RunContext, bank: FlowBank): Promise<void> {
  const scorer = await openFlowScorer(bank, ctx.options.scoreRuntime);
  try {
    if (ctx.state.scoreRuntime && ctx.state.scoreRuntime !== scorer.runtime) {
      throw new UsageError(`${ctx.options.out}: the run scored with ${ctx.state.scoreRuntime}, this one would use ${scorer.runtime}; resume with the same --score-runtime`);
    }
    ctx.state.scoreRuntime = scorer.runtime;
    ctx.log.info('score', { runtime: scorer.runtime });
    await scoreRows(ctx, scorer);
  } finally {
    await scorer.close();
  }
}

async function scoreRows(ctx: RunContext, scorer: FlowScorer): Promise<void> {
  const { options, state } = ctx;
  const d = state.featureDim!;
  const K = state.numClasses!;
  const cols = likelihoodColumns(K);
  const stats = RunningStats.fromJSON(state.embed.stats!);
  const std = stats.std();
  const trainable = trainableClasses(state.embed.labelCounts, K);
  const out = await MatrixWriter.open(ctx.work('likelihood.f32'), cols, { keepRows: state.score.rowsDone });
  const progress = new Progress(ctx.log, 'score', state.totalRows);
  progress.skip(state.score.rowsDone);
  let sinceCheckpoint = 0;
  try {
    for await (const chunk of readMatrix(ctx.work('embeddings.f32'), cacheColumns(d), { start: state.score.rowsDone, chunkRows: 1024 })) {
      await out.append(await scoreChunk(chunk, d, K, scorer, stats, std, trainable));
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

/** The likelihood rows (L[i, 0..K), then the label) of one chunk of embedding-cache rows. */
export async function scoreChunk(
  chunk: MatrixChunk,
  d: number,
  K: number,
  scorer: Pick<FlowScorer, 'logProb'>,
  stats: RunningStats,
  std: Float64Array,
  trainable: boolean[],
): Promise<Float32Array> {
  const cols = d + 1;
  const out = new Float32Array(chunk.n * (K + 1));
  const h = new Float32Array(chunk.n * d);
  for (let i = 0; i < chunk.n; i++) h.set(chunk.rows.subarray(i * cols, i * cols + d), i * d);
  const L = await scorer.logProb(stats.standardize(h, chunk.n, std), chunk.n);
  for (let i = 0; i < chunk.n; i++) {
    const label = chunk.rows[i * cols + d];
    for (let c = 0; c < K; c++) out[i * (K + 1) + c] = label < 0 ? NaN : trainable[c] ? L[i * K + c] : NO_FLOW_LOGLIK;
    out[i * (K + 1) + K] = label;
  }
  return out;
}

/**
 * The rows that take part in detection and the split, as `LikelihoodChunk`s, read again
 * from the likelihood file on every call: rejected rows and rows of classes without a flow
 * are left out (they go to `rejected` / `uncertain` directly).
 */
export function eligibleReader(path: string, K: number, trainable: boolean[]): () => AsyncIterable<LikelihoodChunk> {
  return async function* () {
    for await (const chunk of readMatrix(path, likelihoodColumns(K), { chunkRows: 8192 })) {
      const labels = new Int32Array(chunk.n);
      const L = new Float32Array(chunk.n * K);
      let n = 0;
      for (let i = 0; i < chunk.n; i++) {
        const label = chunk.rows[i * (K + 1) + K];
        if (label < 0 || !trainable[label]) continue;
        labels[n] = label;
        L.set(chunk.rows.subarray(i * (K + 1), i * (K + 1) + K), n * K);
        n++;
      }
      yield { labels: labels.subarray(0, n), L: L.subarray(0, n * K), n };
    }
  };
}

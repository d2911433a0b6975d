import { Field, FixedSizeList, Float32, Int32, type RecordBatch } from 'apache-arrow';
import { buildData, withColumns } from '../io/arrow-data.js';
import type { FlowBank } from '../models/flow-bank.js';
import { openFlowScorer, type FlowScorer, type ScoreRuntime } from '../models/flow-scorer.js';
import { EMBEDDING_COLUMN, fixedSizeListData } from './embed.js';
import type { RunningStats } from './standardize.js';

/** The column `score` adds: FixedSizeList<Float32>[K], the per-dimension log-likelihood under every class's flow. */
export const LIKELIHOOD_COLUMN = 'gssd_likelihood';
/** The column `score` adds: the generative prediction argmax_c L[c] (Int32). */
export const PREDICTION_COLUMN = 'gssd_pred';

/**
 * Log-likelihood given to a class that has no flow (fewer than 2 rows): far below any real
 * value, so the class is never a row's prediction or relabel, yet finite for the statistics.
 */
export const NO_FLOW_LOGLIK = -1e4;

/** How rows are scored: the flows' scorer, the standardisation of h, and which classes have a flow. */
export interface RowScoring {
  scorer: Pick<FlowScorer, 'logProb' | 'numClasses'>;
  stats: RunningStats;
  /** `stats.std()`, when the caller keeps it. */
  std?: Float64Array;
  /** Classes with a flow; the others get NO_FLOW_LOGLIK (all classes have one when absent). */
  trainable?: boolean[];
}

/**
 * The n x K log-likelihoods of n raw embeddings h (n x D): standardised with `stats`, scored by
 * the flows (ONNX Runtime or TF.js, as the scorer was opened), NO_FLOW_LOGLIK for a class
 * without a flow. What the score stage and the cleanse's score pass both compute.
 *
 * @example
 *   const scorer = await openFlowScorer(bank, 'auto');
 *   const L = await scoreRows(h, n, { scorer, stats, trainable });   // L[i * K + c]
 */
export async function scoreRows(h: Float32Array, n: number, { scorer, stats, std = stats.std(), trainable }: RowScoring): Promise<Float32Array> {
  const K = scorer.numClasses;
  if (n === 0) return new Float32Array(0);
  const L = await scorer.logProb(stats.standardize(h, n, std), n);
  if (trainable) {
    for (let c = 0; c < K; c++) {
      if (trainable[c]) continue;
      for (let i = 0; i < n; i++) L[i * K + c] = NO_FLOW_LOGLIK;
    }
  }
  return L;
}

/** Options of the score stage. */
export interface ScoreOptions {
  /** The flows: a `FlowBank` (scored on `runtime`) or a scorer opened with `openFlowScorer`. */
  flows: FlowBank | FlowScorer;
  /** The standardisation of h (the embed pass's running mean/std). */
  stats: RunningStats;
  /** For a `FlowBank`: `auto` (ONNX Runtime, else TF.js: the cleanse's default), `onnx` or `tfjs`. */
  runtime?: ScoreRuntime;
  /** Classes with a flow; the others get NO_FLOW_LOGLIK, as in the cleanse (default: all). */
  trainable?: boolean[];
}

/**
 * The score stage (docs/method.md, step 4): for every row with an embedding (`gssd_h`, from
 * `embed`), standardises h with `stats` and adds its log-likelihood under each class's flow
 * (`gssd_likelihood`, K values per row) and the generative prediction (`gssd_pred`), computed
 * as the cleanse's score pass computes them (`scoreRows`). Rows without an embedding get nulls.
 * Never drops rows.
 *
 * @example
 *   const out = pipe(readBatches(files), (s) => decode(s), (s) => embed(s, { encoder }), (s) => score(s, { flows, stats }));
 */
export async function* score(source: AsyncIterable<RecordBatch>, { flows, stats, runtime = 'auto', trainable }: ScoreOptions): AsyncGenerator<RecordBatch> {
  const given = 'logProb' in flows && 'runtime' in flows;
  const scorer = given ? (flows as FlowScorer) : await openFlowScorer(flows as FlowBank, runtime);
  try {
    const std = stats.std();
    const K = scorer.numClasses;
    const d = scorer.dim;
    for await (const batch of source) {
      const h = batch.getChild(EMBEDDING_COLUMN);
      if (!h) throw new Error('score needs the gssd_h column: run the embed stage first');
      const n = batch.numRows;
      const rows: number[] = [];
      for (let i = 0; i < n; i++) if (h.isValid(i)) rows.push(i);
      const x = new Float32Array(rows.length * d);
      rows.forEach((i, k) => x.set(h.get(i)!.toArray() as Float32Array, k * d));
      const L = await scoreRows(x, rows.length, { scorer, stats, std, trainable });
      const all = new Float32Array(n * K);
      const valid = new Uint8Array(n);
      const pred: (number | null)[] = new Array(n).fill(null);
      rows.forEach((i, k) => {
        const row = L.subarray(k * K, (k + 1) * K);
        all.set(row, i * K);
        valid[i] = 1;
        let best = 0;
        for (let c = 1; c < K; c++) if (row[c] > row[best]) best = c;
        pred[i] = best;
      });
      yield withColumns(
        batch,
        [new Field(LIKELIHOOD_COLUMN, new FixedSizeList(K, new Field('item', new Float32(), false)), true), new Field(PREDICTION_COLUMN, new Int32(), true)],
        [fixedSizeListData(all, valid, K), buildData(new Int32(), pred, 0, n)],
      );
    }
  } finally {
    if (!given) await scorer.close();
  }
}

import { Field, FixedSizeList, Float32, Int32, type RecordBatch } from 'apache-arrow';
import { buildData, withColumns } from '../io/arrow-data.js';
import type { FlowBank } from '../models/flow-bank.js';
import { EMBEDDING_COLUMN, fixedSizeListData } from './embed.js';
import type { RunningStats } from './standardize.js';

/** The column `score` adds: FixedSizeList<Float32>[K], the per-dimension log-likelihood under every class's flow. */
export const LIKELIHOOD_COLUMN = 'gssd_likelihood';
/** The column `score` adds: the generative prediction argmax_c L[c] (Int32). */
export const PREDICTION_COLUMN = 'gssd_pred';

/**
 * The score stage (docs/method.md, step 4): for every row with an embedding (`gssd_h`, from
 * `embed`), standardises h with `stats` and adds its log-likelihood under each class's flow
 * (`gssd_likelihood`, K values per row) and the generative prediction (`gssd_pred`). Rows
 * without an embedding get nulls. Never drops rows.
 *
 * @example
 *   const out = pipe(readBatches(files), (s) => decode(s), (s) => embed(s, { encoder }), (s) => score(s, { flows, stats }));
 */
export async function* score(
  source: AsyncIterable<RecordBatch>,
  { flows, stats }: { flows: FlowBank; stats: RunningStats },
): AsyncGenerator<RecordBatch> {
  const std = stats.std();
  const K = flows.numClasses;
  const d = flows.dim;
  for await (const batch of source) {
    const h = batch.getChild(EMBEDDING_COLUMN);
    if (!h) throw new Error('score needs the gssd_h column: run the embed stage first');
    const n = batch.numRows;
    const rows: number[] = [];
    for (let i = 0; i < n; i++) if (h.isValid(i)) rows.push(i);
    const x = new Float32Array(rows.length * d);
    rows.forEach((i, k) => x.set(h.get(i)!.toArray() as Float32Array, k * d));
    const L = rows.length ? flows.logProb(stats.standardize(x, rows.length, std), rows.length) : new Float32Array(0);
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
}

import { UsageError } from '../errors.js';
import { outlierScores } from '../detect/robust-outlier.js';
import { embeddingPass, type EmbeddingReader } from './embedding-chunk.js';

/** Columns of the per-row Deep k-NN result: agreement, plurality label, own label (-1: rejected row). */
export const KNN_COLUMNS = 3;

/** Options of the Deep k-NN baseline. */
export interface KnnOptions {
  /** Neighbours per row. Default 50. */
  k?: number;
  /** Query rows held in memory at once (memory: blockRows x (D + 3k) numbers). Default 1024. */
  blockRows?: number;
}

/** Per-dimension mean and std: rows are standardised with them, then scaled to unit length (cosine similarity). */
export interface KnnScaling {
  mean: ArrayLike<number>;
  std: ArrayLike<number>;
}

/** What Deep k-NN did to one class. */
export interface KnnClass {
  label: number;
  /** Rows labelled c. */
  n: number;
  /** Rows of c whose neighbours' plurality label is another class: removed. */
  nRemoved: number;
  removedShare: number;
  /** Outlier index of the removed share against the other classes (high side), its critical value. */
  index: number | null;
  critical: number | null;
  /** The removed share is a high outlier: the suspected target (rows are removed from every class regardless). */
  flagged: boolean;
}

/** A finished Deep k-NN run: plain data (JSON-safe); the per-row results are in a `KNN_COLUMNS` matrix file. */
export interface KnnModel {
  method: 'deep-knn';
  K: number;
  D: number;
  k: number;
  flagged: number[];
  totalRemoved: number;
  classes: KnnClass[];
}

/**
 * Deep k-NN (Peri et al., ECCV-W 2020) for the query rows [start, end) of the stream: each
 * row's k nearest neighbours among all other rows (cosine similarity of the standardised
 * embeddings; ties by lower row index), and per row [agreement, plurality label, own label]:
 * agreement is the share of the neighbours carrying the row's own label, the plurality label
 * the most common neighbour label (the own label wins a tie, then the lowest label). The
 * row is removed when the plurality label is not its own. Rejected rows (label < 0) get
 * [NaN, -1, -1] and are nobody's neighbour. Two passes over the stream (the query rows, then
 * every row as a reference); memory O((end - start) x (D + k)). The result does not depend
 * on the block boundaries.
 *
 * @example
 *   const rows = await knnBlock(read, 10, 128, 0, 1024, scaling, { k: 50 }); // 1024 x 3
 */
export async function knnBlock(read: EmbeddingReader, K: number, D: number, start: number, end: number, scaling: KnnScaling, options: KnnOptions = {}): Promise<Float32Array> {
  const k = options.k ?? 50;
  if (!Number.isInteger(k) || k < 1) throw new UsageError(`Expected \`--knn-k\` to be an integer from 1 up, got \`${k}\``);
  const B = end - start;
  const Q = new Float32Array(B * D);
  const qLabel = new Int32Array(B).fill(-1);
  const scratch = new Float32Array(D);
  for await (const { chunk, row0 } of embeddingPass(read, K, D)) {
    if (row0 >= end) break;
    for (let i = Math.max(0, start - row0); i < chunk.n && row0 + i < end; i++) {
      const q = row0 + i - start;
      qLabel[q] = chunk.labels[i];
      if (qLabel[q] >= 0) unitRow(chunk.h, i, D, scaling, Q.subarray(q * D, (q + 1) * D));
    }
  }
  const sims = new Float64Array(B * k);
  const rows = new Float64Array(B * k);
  const labs = new Int32Array(B * k);
  const count = new Int32Array(B);
  for await (const { chunk, row0 } of embeddingPass(read, K, D)) {
    for (let i = 0; i < chunk.n; i++) {
      const label = chunk.labels[i];
      if (label < 0) continue;
      const r = row0 + i;
      unitRow(chunk.h, i, D, scaling, scratch);
      for (let q = 0; q < B; q++) {
        if (qLabel[q] < 0 || start + q === r) continue;
        let s = 0;
        const o = q * D;
        for (let d = 0; d < D; d++) s += Q[o + d] * scratch[d];
        insert(q, s, r, label);
      }
    }
  }
  const out = new Float32Array(B * KNN_COLUMNS);
  const votes = new Int32Array(K);
  for (let q = 0; q < B; q++) {
    const own = qLabel[q];
    if (own < 0 || count[q] === 0) {
      out.set([NaN, own < 0 ? -1 : own, own], q * KNN_COLUMNS);
      continue;
    }
    votes.fill(0);
    for (let j = 0; j < count[q]; j++) votes[labs[q * k + j]]++;
    let plurality = own;
    for (let c = 0; c < K; c++) if (votes[c] > votes[plurality]) plurality = c;
    out.set([votes[own] / count[q], plurality, own], q * KNN_COLUMNS);
  }
  return out;

  /** Keeps query q's neighbours sorted best first: similarity descending, then row ascending. */
  function insert(q: number, s: number, r: number, label: number): void {
    const base = q * k;
    let n = count[q];
    if (n === k) {
      const ws = sims[base + k - 1];
      if (s < ws || (s === ws && r > rows[base + k - 1])) return;
      n = k - 1;
    } else count[q] = n + 1;
    let j = n;
    while (j > 0 && (sims[base + j - 1] < s || (sims[base + j - 1] === s && rows[base + j - 1] > r))) {
      sims[base + j] = sims[base + j - 1];
      rows[base + j] = rows[base + j - 1];
      labs[base + j] = labs[base + j - 1];
      j--;
    }
    sims[base + j] = s;
    rows[base + j] = r;
    labs[base + j] = label;
  }
}

/**
 * The model from the per-class counts of the finished rows: removed shares, and the classes
 * whose share is a high outlier against the others (`outlierScores`, level `alpha`, sd floor
 * 0.01), as the suspected targets.
 *
 * @example
 *   const model = knnDecision({ K: 10, D: 128, k: 50, n, removed, alpha: 0.2 });
 */
export function knnDecision(a: { K: number; D: number; k: number; n: ArrayLike<number>; removed: ArrayLike<number>; alpha: number }): KnnModel {
  const shares = Array.from({ length: a.K }, (_, c) => (a.n[c] >= 2 ? a.removed[c] / a.n[c] : null));
  const scores = outlierScores(shares, 1, { alpha: a.alpha, minScale: 0.01 });
  const classes: KnnClass[] = shares.map((share, c) => ({
    label: c,
    n: a.n[c],
    nRemoved: a.removed[c],
    removedShare: share ?? 0,
    index: scores[c].index,
    critical: scores[c].critical,
    flagged: scores[c].outlier && (share ?? 0) > 0,
  }));
  let total = 0;
  for (let c = 0; c < a.K; c++) total += a.removed[c];
  return { method: 'deep-knn', K: a.K, D: a.D, k: a.k, flagged: classes.filter((c) => c.flagged).map((c) => c.label), totalRemoved: total, classes };
}

/** A row's Deep k-NN verdict from its result row: removed when its neighbours' plurality is another label. */
export function knnRowVerdict(result: ArrayLike<number>, label: number): { removed: boolean; score: number; plurality: number } {
  const plurality = result[1];
  return { removed: plurality >= 0 && plurality !== label, score: result[0], plurality };
}

/** Row i of h, standardised and scaled to unit length, into `out`. */
function unitRow(h: Float32Array, i: number, D: number, s: KnnScaling, out: Float32Array): void {
  let norm = 0;
  for (let d = 0; d < D; d++) {
    const z = (h[i * D + d] - s.mean[d]) / s.std[d];
    out[d] = z;
    norm += z * z;
  }
  const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let d = 0; d < D; d++) out[d] *= inv;
}

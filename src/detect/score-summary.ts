import { histogramBin, histogramEdges } from './histogram.js';
import type { ChunkReader } from './likelihood-chunk.js';
import { scoreAt } from './sample-score.js';

/** One row at an end of a class's score order: its index among the eligible rows and its score. */
export interface ExtremeRow {
  /** Index among the rows that take part in detection (the `rowIndex` of `splitRow`). */
  eligible: number;
  score: number;
}

/** The score distribution of one class, for the report: a histogram and the k rows at each end. */
export interface ScoreSummary {
  label: number;
  n: number;
  edges: number[];
  counts: number[];
  /** The k lowest scores, ascending (ties: lower row first). */
  lowest: ExtremeRow[];
  /** The k highest scores, descending (ties: lower row first). */
  highest: ExtremeRow[];
}

/**
 * Per class in `labels`, a `bins`-bin histogram of the score s = L[c] - max over c' != c of
 * L[c'] and the `k` rows with the lowest and the highest scores, in two streaming passes over
 * the likelihood chunks (range and extremes, then counts). Memory: O(classes x (bins + k)).
 *
 * @example
 *   const [s] = await summarizeScores(read, 10, [0], { bins: 40, k: 8 });
 *   s.lowest[0]; // { eligible: 1234, score: -3.1 }
 */
export async function summarizeScores(read: ChunkReader, K: number, labels: number[], options: { bins?: number; k?: number } = {}): Promise<ScoreSummary[]> {
  const bins = options.bins ?? 40;
  const k = options.k ?? 8;
  const slot = new Int32Array(K).fill(-1);
  labels.forEach((c, j) => (slot[c] = j));
  const out: ScoreSummary[] = labels.map((label) => ({ label, n: 0, edges: [], counts: new Array(bins).fill(0), lowest: [], highest: [] }));
  if (!labels.length) return out;
  const min = new Float64Array(labels.length).fill(Infinity);
  const max = new Float64Array(labels.length).fill(-Infinity);
  let row = 0;
  for await (const { labels: ls, L, n } of read()) {
    for (let i = 0; i < n; i++) {
      const j = slot[ls[i]];
      if (j < 0) continue;
      const s = scoreAt(L, i * K, K, ls[i]);
      const o = out[j];
      o.n += 1;
      if (s < min[j]) min[j] = s;
      if (s > max[j]) max[j] = s;
      keep(o.lowest, { eligible: row + i, score: s }, k, (a, b) => a.score - b.score || a.eligible - b.eligible);
      keep(o.highest, { eligible: row + i, score: s }, k, (a, b) => b.score - a.score || a.eligible - b.eligible);
    }
    row += n;
  }
  out.forEach((o, j) => (o.edges = o.n ? histogramEdges(min[j], max[j], bins) : []));
  for await (const { labels: ls, L, n } of read()) {
    for (let i = 0; i < n; i++) {
      const j = slot[ls[i]];
      if (j < 0 || !out[j].edges.length) continue;
      const b = histogramBin(scoreAt(L, i * K, K, ls[i]), out[j].edges);
      if (b >= 0) out[j].counts[b] += 1;
    }
  }
  return out;
}

/** Inserts `x` into the sorted list `list` (order `cmp`) when it is among the first `k`. */
function keep(list: ExtremeRow[], x: ExtremeRow, k: number, cmp: (a: ExtremeRow, b: ExtremeRow) => number): void {
  if (list.length === k && cmp(x, list[k - 1]) >= 0) return;
  let i = list.length;
  while (i > 0 && cmp(x, list[i - 1]) < 0) i--;
  list.splice(i, 0, x);
  if (list.length > k) list.pop();
}

/**
 * Per-row quantities of docs/method.md step 6 for a row labelled `label` whose log-likelihoods
 * are `row[0..K)`:
 * - `score` s = L[label] - max over c' != label of L[c'] (computed in float64);
 * - `loglik` = L[label], the own-class log-likelihood;
 * - `pred` = argmax_c L[c], the generative prediction;
 * - `relabel` = argmax over c' != label of L[c'], the label a relabelled row gets.
 * Ties go to the lowest class index. Needs K >= 2.
 *
 * @example
 *   sampleScore(0, Float32Array.of(-1, -0.5, -2)); // { score: -0.5, loglik: -1, pred: 1, relabel: 1 }
 */
export function sampleScore(label: number, row: ArrayLike<number>, K: number = row.length): RowScore {
  let pred = 0;
  let best = row[0];
  let relabel = -1;
  let bestOther = -Infinity;
  for (let c = 0; c < K; c++) {
    const v = row[c];
    if (v > best) {
      best = v;
      pred = c;
    }
    if (c !== label && (relabel < 0 || v > bestOther)) {
      bestOther = v;
      relabel = c;
    }
  }
  const loglik = row[label];
  return { score: loglik - bestOther, loglik, pred, relabel };
}

/** What `sampleScore` returns. */
export interface RowScore {
  score: number;
  loglik: number;
  pred: number;
  relabel: number;
}

/**
 * Only the score s of row `i` of a row-major chunk (no allocation): L[label] - max over other classes.
 *
 * @example
 *   scoreAt(chunk.L, i * K, K, chunk.labels[i]);
 */
export function scoreAt(L: ArrayLike<number>, offset: number, K: number, label: number): number {
  let bestOther = -Infinity;
  for (let c = 0; c < K; c++) {
    if (c !== label && L[offset + c] > bestOther) bestOther = L[offset + c];
  }
  return L[offset + label] - bestOther;
}

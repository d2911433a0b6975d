import type { LikelihoodChunk } from './likelihood-chunk.js';

/** The ND statistic of one class: -mean of L[i,c] over the rows i not labelled c. */
export interface NDStatistic {
  label: number;
  /** null when every row carries label c. */
  statistic: number | null;
  /** Rows not labelled c. */
  nOther: number;
}

/**
 * Streaming ND-test statistics (docs/method.md, step 5), one pass, K sums in memory.
 *
 * @example
 *   const acc = new NDTestAccumulator(10);
 *   for await (const chunk of read()) acc.add(chunk);
 *   acc.statistics(); // [{ label: 0, statistic: 0.71, nOther: 45000 }, ...]
 */
export class NDTestAccumulator {
  readonly K: number;
  private readonly sum: Float64Array;
  private readonly count: Float64Array;

  constructor(K: number) {
    this.K = K;
    this.sum = new Float64Array(K);
    this.count = new Float64Array(K);
  }

  add(chunk: LikelihoodChunk): void {
    const { K, sum, count } = this;
    const { labels, L, n } = chunk;
    for (let i = 0; i < n; i++) {
      const y = labels[i];
      const o = i * K;
      for (let c = 0; c < K; c++) {
        if (c === y) continue;
        sum[c] += L[o + c];
        count[c] += 1;
      }
    }
  }

  statistics(): NDStatistic[] {
    const out: NDStatistic[] = [];
    for (let c = 0; c < this.K; c++) {
      const nOther = this.count[c];
      out.push({ label: c, statistic: nOther > 0 ? -this.sum[c] / nOther : null, nOther });
    }
    return out;
  }
}

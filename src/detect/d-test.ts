import { InputError } from '../errors.js';
import { histogramBin, histogramEdges } from './histogram.js';
import type { LikelihoodChunk } from './likelihood-chunk.js';

/** The histogram of u = max over c' != c of exp(L[i,c']) for the rows labelled c. */
export interface DTestHistogram {
  label: number;
  /** Rows labelled c. */
  n: number;
  /** min and max of u over the class (null for an empty class). */
  min: number | null;
  max: number | null;
  /** bins + 1 edges, numpy.histogram style (empty for an empty class). */
  edges: number[];
  counts: number[];
}

/** The valley of a histogram: m = first argmin of h_k over k < kStar, S = sum of h_k for k < m. */
export interface Valley {
  kStar: number;
  m: number;
  S: number;
  /** h_m */
  hm: number;
}

/** The paper's D-test decision for one class (docs/method.md, step 5). */
export interface DTestResult extends DTestHistogram {
  /** max{k : e_k < lambda}, or null when the class was skipped. */
  kStar: number | null;
  m: number | null;
  S: number;
  hm: number | null;
  /** m != 0 and S > beta_D * n and S >= 2 * h_m. */
  flagged: boolean;
  /** Why the class was not tested, or null. */
  skipped: string | null;
}

/**
 * Streaming D-test histograms over two passes of the likelihood matrix: pass 1 (`addRange`)
 * finds min and max of u per class, pass 2 (`addCounts`, after `beginCounting`) counts.
 * Memory is K x bins numbers whatever the number of rows. u is handled in log space
 * (v = max over c' != c of L[i,c'], u = exp(v)), so min/max are exact.
 *
 * @example
 *   const acc = new DTestAccumulator(10);
 *   for await (const chunk of read()) acc.addRange(chunk);
 *   acc.beginCounting();
 *   for await (const chunk of read()) acc.addCounts(chunk);
 *   const hists = acc.histograms(); // then dTestDecision(hist, 0.75, 0.05) per class
 */
export class DTestAccumulator {
  readonly K: number;
  readonly bins: number;
  private readonly n: Float64Array;
  private readonly vMin: Float64Array;
  private readonly vMax: Float64Array;
  private counts: Float64Array | null = null;
  private edges: number[][] | null = null;
  private counted = 0;
  /** Fine log-space histograms for the robust statistic: own[c] of v for rows labelled c, ref[c] of w for the others. */
  readonly fineBins: number;
  private lMin = Infinity;
  private lMax = -Infinity;
  private fineEdges: number[] = [];
  private own: Float64Array | null = null;
  private ref: Float64Array | null = null;

  constructor(K: number, bins = 30, fineBins = 1024) {
    this.K = K;
    this.bins = bins;
    this.fineBins = fineBins;
    this.n = new Float64Array(K);
    this.vMin = new Float64Array(K).fill(Infinity);
    this.vMax = new Float64Array(K).fill(-Infinity);
  }

  /** Pass 1: class sizes and the range of u. */
  addRange(chunk: LikelihoodChunk): void {
    if (this.counts) throw new Error('DTestAccumulator: addRange after beginCounting');
    const { K } = this;
    const { labels, L, n } = chunk;
    for (let i = 0; i < n; i++) {
      const y = labels[i];
      const v = maxOther(L, i * K, K, y);
      this.n[y] += 1;
      if (v < this.vMin[y]) this.vMin[y] = v;
      if (v > this.vMax[y]) this.vMax[y] = v;
      for (let c = 0; c < K; c++) {
        const x = L[i * K + c];
        if (x < this.lMin) this.lMin = x;
        if (x > this.lMax) this.lMax = x;
      }
    }
  }

  /** Ends pass 1: fixes the edges of every class. */
  beginCounting(): void {
    if (this.counts) return;
    this.edges = [];
    for (let c = 0; c < this.K; c++) {
      this.edges.push(this.n[c] > 0 ? histogramEdges(Math.exp(this.vMin[c]), Math.exp(this.vMax[c]), this.bins) : []);
    }
    this.counts = new Float64Array(this.K * this.bins);
    if (this.lMin <= this.lMax) this.fineEdges = histogramEdges(this.lMin, this.lMax, this.fineBins);
    this.own = new Float64Array(this.K * this.fineBins);
    this.ref = new Float64Array(this.K * this.fineBins);
  }

  /** Pass 2: count u into the class's bins. */
  addCounts(chunk: LikelihoodChunk): void {
    const { counts, edges, K, bins, own, ref, fineBins, fineEdges } = this;
    if (!counts || !edges || !own || !ref) throw new Error('DTestAccumulator: addCounts before beginCounting');
    const { labels, L, n } = chunk;
    for (let i = 0; i < n; i++) {
      const y = labels[i];
      const o = i * K;
      // top two of the row outside its own class
      let a = -1;
      let top1 = -Infinity;
      let top2 = -Infinity;
      for (let c = 0; c < K; c++) {
        if (c === y) continue;
        const x = L[o + c];
        if (x > top1) {
          top2 = top1;
          top1 = x;
          a = c;
        } else if (x > top2) top2 = x;
      }
      const k = histogramBin(Math.exp(top1), edges[y]);
      const f = histogramBin(top1, fineEdges);
      if (k < 0 || f < 0) throw new InputError(`row ${this.counted + i}: the second pass over the likelihoods differs from the first`);
      counts[y * bins + k] += 1;
      own[y * fineBins + f] += 1;
      // for every other class c: w = max over c' not in {c, y}
      if (K > 2) {
        const f1 = f;
        const f2 = histogramBin(top2, fineEdges);
        for (let c = 0; c < K; c++) if (c !== y) ref[c * fineBins + (c === a ? f2 : f1)] += 1;
      }
    }
    this.counted += n;
  }

  /**
   * Robust D statistic per class, a class-relative stand-in for lambda: the share of the
   * class's rows whose u = max over c' != c of exp(L[i,c']) falls below the `lowQuantile`
   * (default 0.01) of a reference: the rows of the other classes d, each scored by the flows
   * other than its own and other than c (w = max over c' not in {c, d} of exp(L[i,c'])).
   * Both sides exclude flow c, so a flow that absorbed poison from every class (ND-type
   * attack) does not shift the reference, while a disruptive trigger (D-type attack) puts
   * the poisoned rows far below it. About lowQuantile for clean classes; the poison share
   * for a D-type target. Quantiles come from 1024-bin log-space histograms over the range of
   * L (rows in bins wholly below the quantile's bin count as below). Needs K >= 3.
   *
   * @example
   *   acc.lowTails(0.01); // [{ label: 0, threshold: 0.21, below: 4210, statistic: 0.443 }, ...]
   */
  lowTails(lowQuantile = 0.01): LowTail[] {
    const { own, ref, K, fineBins, fineEdges } = this;
    if (!own || !ref) throw new Error('DTestAccumulator: lowTails before the counting pass');
    const out: LowTail[] = [];
    for (let c = 0; c < K; c++) {
      let total = 0;
      for (let b = 0; b < fineBins; b++) total += ref[c * fineBins + b];
      if (total === 0 || this.n[c] === 0) {
        out.push({ label: c, threshold: null, below: 0, statistic: 0 });
        continue;
      }
      let cum = 0;
      let qb = 0;
      for (; qb < fineBins; qb++) {
        cum += ref[c * fineBins + qb];
        if (cum >= lowQuantile * total) break;
      }
      let below = 0;
      for (let b = 0; b < qb; b++) below += own[c * fineBins + b];
      out.push({ label: c, threshold: Math.exp(fineEdges[qb]), below, statistic: below / this.n[c] });
    }
    return out;
  }

  /** The per-class histograms after pass 2. */
  histograms(): DTestHistogram[] {
    const { counts, edges, K, bins } = this;
    if (!counts || !edges) throw new Error('DTestAccumulator: histograms before the counting pass');
    const out: DTestHistogram[] = [];
    for (let c = 0; c < K; c++) {
      const n = this.n[c];
      const classCounts = Array.from(counts.subarray(c * bins, (c + 1) * bins));
      const total = classCounts.reduce((a, b) => a + b, 0);
      if (total !== n) throw new InputError(`class ${c}: ${n} rows in the first pass over the likelihoods, ${total} in the second`);
      out.push({
        label: c,
        n,
        min: n > 0 ? Math.exp(this.vMin[c]) : null,
        max: n > 0 ? Math.exp(this.vMax[c]) : null,
        edges: edges[c].slice(),
        counts: n > 0 ? classCounts : [],
      });
    }
    return out;
  }
}

/** The robust D statistic of one class (see `DTestAccumulator.lowTails`). */
export interface LowTail {
  label: number;
  /** u below which a row counts as "low": the lowQuantile of the reference rows' w. */
  threshold: number | null;
  /** Rows labelled c with u below the threshold. */
  below: number;
  /** below / n (0 for an empty class). */
  statistic: number;
}

function maxOther(L: Float32Array, o: number, K: number, y: number): number {
  let v = -Infinity;
  for (let c = 0; c < K; c++) if (c !== y && L[o + c] > v) v = L[o + c];
  return v;
}

/**
 * The valley below bin `kStar`: m = the first argmin of counts[k] over k < kStar, S = the
 * sum of counts[k] for k < m. Needs kStar >= 1.
 *
 * @example
 *   findValley([5, 9, 0, 1, 20, 30], 4); // { kStar: 4, m: 2, S: 14, hm: 0 }
 */
export function findValley(counts: readonly number[], kStar: number): Valley {
  let m = 0;
  for (let k = 1; k < kStar; k++) if (counts[k] < counts[m]) m = k;
  let S = 0;
  for (let k = 0; k < m; k++) S += counts[k];
  return { kStar, m, S, hm: counts[m] };
}

/**
 * The paper's D-test on one class histogram: below = {k : e_k < lambda}; skip if |below| <= 1;
 * k* = max(below); valley (m, S) below k*; flag if m != 0 and S > beta_D * n and S >= 2 h_m.
 *
 * @example
 *   const r = dTestDecision(hist, 0.75, 0.05);
 *   if (r.flagged) console.log(`class ${r.label}: low mode of ${r.S} rows`);
 */
export function dTestDecision(hist: DTestHistogram, lambda: number, betaD: number): DTestResult {
  const base = { ...hist, kStar: null, m: null, S: 0, hm: null, flagged: false };
  if (hist.n === 0) return { ...base, skipped: 'no rows carry this label' };
  let below = 0;
  for (const e of hist.edges) if (e < lambda) below += 1;
  if (below <= 1) return { ...base, skipped: `${below} histogram edge(s) below lambda = ${lambda}` };
  // the edges ascend, so below = {0 .. below - 1}
  const v = findValley(hist.counts, below - 1);
  const flagged = v.m !== 0 && v.S > betaD * hist.n && v.S >= 2 * v.hm;
  return { ...base, kStar: v.kStar, m: v.m, S: v.S, hm: v.hm, flagged, skipped: null };
}

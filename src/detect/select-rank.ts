import { UsageError } from '../errors.js';

/** A value and the global row it came from; keys order by value, then by row index. */
export interface RankKey {
  value: number;
  rowIndex: number;
}

/** One chunk of a value stream: row indices are `rowIndex[j]`, or `rowIndex0 + j` when absent. */
export interface ValueChunk {
  values: ArrayLike<number>;
  rowIndex0?: number;
  rowIndex?: ArrayLike<number>;
}

/** Tuning of `RankSelector`. */
export interface RankSelectorOptions {
  /** Histogram bins per refinement pass. Default 256. */
  bins?: number;
  /** Collect and sort the candidates once at most this many remain. Default 4096. */
  maxCandidates?: number;
}

/** Orders two keys: by value, ties by row index. */
export function compareKeys(a: RankKey, b: RankKey): number {
  return a.value - b.value || a.rowIndex - b.rowIndex;
}

/**
 * Exact selection of the element of rank k (0-based, ascending by value then row index) of a
 * stream that can be read again, in O(bins + maxCandidates) memory. Each pass feeds every
 * element to `add`, then `endPass()` says whether the answer is known:
 * 1. the first pass counts the elements and finds their min and max;
 * 2. each refinement pass keeps a `bins`-bin histogram (count, min, max per bin) of the
 *    elements still in the candidate range and narrows the range to the bin holding rank k.
 *    Bins are a monotone function of the value, so a bin's [min, max] holds exactly its
 *    elements; both end bins are non-empty, so every pass removes candidates. When all
 *    remaining candidates share one value the refinement continues on the row index;
 * 3. once at most `maxCandidates` remain, one pass collects them, sorts them and picks.
 * NaN is not allowed (the caller checks its values).
 *
 * @example
 *   const sel = new RankSelector(1000);
 *   while (!sel.done) {
 *     for (const [i, v] of values.entries()) sel.add(v, i);
 *     sel.endPass();
 *   }
 *   sel.result(); // { value, rowIndex } of the 1001st smallest
 */
export class RankSelector {
  readonly k: number;
  readonly bins: number;
  readonly maxCandidates: number;
  /** Passes finished so far. */
  passes = 0;
  done = false;

  private phase: 'range' | 'bin' | 'collect' = 'range';
  /** 'value': candidates have lo <= value <= hi; 'row': value === fixedValue and lo <= row <= hi. */
  private field: 'value' | 'row' = 'value';
  private fixedValue = 0;
  private lo = Infinity;
  private hi = -Infinity;
  /** Elements ranked below every candidate. */
  private below = 0;
  /** Candidates in the current range. */
  private count = 0;
  private rowLo = Infinity;
  private rowHi = -Infinity;

  private readonly binCount: Float64Array;
  private readonly binMin: Float64Array;
  private readonly binMax: Float64Array;
  private readonly binRowMin: Float64Array;
  private readonly binRowMax: Float64Array;
  private candidates: RankKey[] = [];
  private answer: RankKey | null = null;

  constructor(k: number, options: RankSelectorOptions = {}) {
    const bins = options.bins ?? 256;
    const maxCandidates = options.maxCandidates ?? 4096;
    if (!Number.isInteger(k) || k < 0) throw new UsageError(`Expected \`k\` to be an integer from 0 and up, got \`${k}\``);
    if (!Number.isInteger(bins) || bins < 2) throw new UsageError(`Expected \`bins\` to be an integer from 2 and up, got \`${bins}\``);
    if (!Number.isInteger(maxCandidates) || maxCandidates < 1) {
      throw new UsageError(`Expected \`maxCandidates\` to be an integer from 1 and up, got \`${maxCandidates}\``);
    }
    this.k = k;
    this.bins = bins;
    this.maxCandidates = maxCandidates;
    this.binCount = new Float64Array(bins);
    this.binMin = new Float64Array(bins);
    this.binMax = new Float64Array(bins);
    this.binRowMin = new Float64Array(bins);
    this.binRowMax = new Float64Array(bins);
  }

  /** Feed one element of the current pass. */
  add(value: number, rowIndex: number): void {
    if (this.done) return;
    if (this.phase === 'range') {
      this.count += 1;
      if (value < this.lo) this.lo = value;
      if (value > this.hi) this.hi = value;
      if (rowIndex < this.rowLo) this.rowLo = rowIndex;
      if (rowIndex > this.rowHi) this.rowHi = rowIndex;
      return;
    }
    let x: number;
    if (this.field === 'value') {
      if (value < this.lo || value > this.hi) return;
      x = value;
    } else {
      if (value !== this.fixedValue || rowIndex < this.lo || rowIndex > this.hi) return;
      x = rowIndex;
    }
    if (this.phase === 'collect') {
      this.candidates.push({ value, rowIndex });
      return;
    }
    let b = Math.floor(((x - this.lo) / (this.hi - this.lo)) * this.bins);
    if (b >= this.bins) b = this.bins - 1;
    if (this.binCount[b] === 0) {
      this.binMin[b] = x;
      this.binMax[b] = x;
      this.binRowMin[b] = rowIndex;
      this.binRowMax[b] = rowIndex;
    } else {
      if (x < this.binMin[b]) this.binMin[b] = x;
      if (x > this.binMax[b]) this.binMax[b] = x;
      if (rowIndex < this.binRowMin[b]) this.binRowMin[b] = rowIndex;
      if (rowIndex > this.binRowMax[b]) this.binRowMax[b] = rowIndex;
    }
    this.binCount[b] += 1;
  }

  /** Close the current pass; returns `done`. */
  endPass(): boolean {
    if (this.done) return true;
    this.passes += 1;
    if (this.phase === 'range') {
      if (this.k >= this.count) {
        throw new UsageError(`Expected \`k\` to be below the number of values (${this.count}), got \`${this.k}\``);
      }
      this.afterNarrowing();
      return this.done;
    }
    if (this.phase === 'collect') {
      const got = this.candidates.length;
      if (got !== this.count) throw new Error(`RankSelector: the stream changed between passes (${got} candidates, expected ${this.count})`);
      this.candidates.sort(compareKeys);
      this.answer = this.candidates[this.k - this.below];
      this.candidates = [];
      this.done = true;
      return true;
    }
    // refinement pass: find the bin holding rank k
    let total = 0;
    for (let b = 0; b < this.bins; b++) total += this.binCount[b];
    if (total !== this.count) throw new Error(`RankSelector: the stream changed between passes (${total} candidates, expected ${this.count})`);
    const want = this.k - this.below;
    let cum = 0;
    let b = 0;
    for (; b < this.bins; b++) {
      if (cum + this.binCount[b] > want) break;
      cum += this.binCount[b];
    }
    this.below += cum;
    this.count = this.binCount[b];
    this.lo = this.binMin[b];
    this.hi = this.binMax[b];
    this.rowLo = this.binRowMin[b];
    this.rowHi = this.binRowMax[b];
    this.binCount.fill(0);
    this.afterNarrowing();
    return this.done;
  }

  private afterNarrowing(): void {
    if (this.field === 'value' && this.lo === this.hi) {
      this.field = 'row';
      this.fixedValue = this.lo;
      this.lo = this.rowLo;
      this.hi = this.rowHi;
    }
    if (this.count === 1 && this.field === 'row' && this.lo === this.hi) {
      this.answer = { value: this.fixedValue, rowIndex: this.lo };
      this.done = true;
      return;
    }
    if (this.count <= this.maxCandidates || !Number.isFinite(this.hi - this.lo)) {
      this.phase = 'collect';
    } else {
      this.phase = 'bin';
    }
  }

  /** The selected key; throws before `done`. */
  result(): RankKey {
    if (!this.answer) throw new Error('RankSelector: result before the selection finished');
    return this.answer;
  }
}

/**
 * The element of rank k (0-based, ascending by value, ties by row index) of a re-readable
 * stream, exact, without holding the stream in memory. Reads the stream a few times
 * (about 2 + log_bins(n / maxCandidates) passes).
 *
 * @example
 *   const { value, rowIndex } = await selectRank(() => readScores(), 1424, { bins: 256 });
 */
export async function selectRank(
  readStream: () => AsyncIterable<ValueChunk> | Iterable<ValueChunk>,
  k: number,
  options: RankSelectorOptions = {},
): Promise<RankKey & { passes: number }> {
  const sel = new RankSelector(k, options);
  while (!sel.done) {
    for await (const chunk of readStream()) {
      const { values, rowIndex, rowIndex0 = 0 } = chunk;
      for (let j = 0; j < values.length; j++) sel.add(values[j], rowIndex ? rowIndex[j] : rowIndex0 + j);
    }
    sel.endPass();
  }
  return { ...sel.result(), passes: sel.passes };
}

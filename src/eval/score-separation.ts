import { histogramBin, histogramEdges } from '../detect/histogram.js';

/**
 * How well the per-row score (gssd_score) separates the attacked class's own rows from the
 * poisoned rows that carry its label, whatever cut the defence chose: the AUROC, and the share
 * of own rows that the best single threshold keeps while removing 99% (and 100%) of the poison. It tells
 * a cut that could do better from an encoder that separates no better. Both assume poison that
 * scores low, the ND-test's direction; poison that scores high (a D-test attack) gives an
 * AUROC below 0.5.
 */
export interface ScoreSeparation {
  /** The class (the attack's target label). */
  label: number;
  /** Truly clean rows of the class with a score (cover rows left out). */
  ownRows: number;
  /** Poisoned rows with the class's label and a score. */
  poisonedRows: number;
  /** P(a random own row scores above a random poisoned row), ties counting half. */
  auroc: number;
  /**
   * Share of own rows above the lowest threshold that leaves at most 1% of the poisoned rows
   * above it: what the best cut on this score keeps of the class at 99% removal.
   */
  ownKeptAt99Removal: number;
  /**
   * The same at 100% removal: the share of own rows above the highest-scoring poisoned row.
   * Where a cut that removes all the poison (as the adaptive cut tends to) can be judged.
   */
  ownKeptAtFullRemoval: number;
}

/**
 * Two histograms (own rows, poisoned rows) of one class's scores over a range known in
 * advance, so memory is fixed (2 x `bins` counts) whatever the number of rows; the figures are
 * exact up to rows that share a bin (65,536 bins by default).
 *
 * @example
 *   const acc = new ScoreSeparationAccumulator(0, minScore, maxScore);
 *   for (const r of classZeroRows) acc.add(r.score, r.isPoisoned);
 *   acc.result(); // { label: 0, auroc: 0.75, ownKeptAt99Removal: 0.11, ... }
 */
export class ScoreSeparationAccumulator {
  private readonly edges: number[];
  private readonly own: Float64Array;
  private readonly poisoned: Float64Array;
  private ownRows = 0;
  private poisonedRows = 0;

  constructor(
    readonly label: number,
    min: number,
    max: number,
    private readonly bins = 65_536,
  ) {
    if (!(max >= min)) throw new RangeError(`score range [${min}, ${max}] is empty`);
    this.edges = histogramEdges(min, max, bins);
    this.own = new Float64Array(bins);
    this.poisoned = new Float64Array(bins);
  }

  /** Counts one row; a score outside the range given to the constructor (or not finite) is an error. */
  add(score: number, isPoisoned: boolean): void {
    const b = histogramBin(score, this.edges);
    if (b < 0) throw new RangeError(`score ${score} is outside the range [${this.edges[0]}, ${this.edges[this.bins]}]`);
    if (isPoisoned) {
      this.poisoned[b]++;
      this.poisonedRows++;
    } else {
      this.own[b]++;
      this.ownRows++;
    }
  }

  /** The figures; null when the class has no own or no poisoned rows. */
  result(): ScoreSeparation | null {
    if (this.ownRows === 0 || this.poisonedRows === 0) return null;
    let wins = 0;
    let poisonBelow = 0;
    for (let b = 0; b < this.bins; b++) {
      wins += this.own[b] * (poisonBelow + 0.5 * this.poisoned[b]);
      poisonBelow += this.poisoned[b];
    }
    return {
      label: this.label,
      ownRows: this.ownRows,
      poisonedRows: this.poisonedRows,
      auroc: wins / (this.ownRows * this.poisonedRows),
      ownKeptAt99Removal: this.ownKeptAbove(Math.floor(0.01 * this.poisonedRows)),
      ownKeptAtFullRemoval: this.ownKeptAbove(0),
    };
  }

  /** The share of own rows above the lowest bin t with at most `allowed` poisoned rows above it (the cut removes bins <= t). */
  private ownKeptAbove(allowed: number): number {
    let above = this.poisonedRows;
    let ownAbove = this.ownRows;
    for (let t = 0; t < this.bins && above > allowed; t++) {
      above -= this.poisoned[t];
      ownAbove -= this.own[t];
    }
    return ownAbove / this.ownRows;
  }
}

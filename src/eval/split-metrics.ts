import type { Split } from '../detect/split-row.js';

/** One routed row with its ground truth (only evaluation may see ground truth). */
export interface EvalRow {
  split: Split;
  /** The label the defence trains the row with (null: not trained on). */
  gssdLabel: number | null;
  /** The row was poisoned (trigger + target label). */
  isPoisoned: boolean;
  /** The row is a cover row (trigger, label kept): counts as a clean row. */
  isCover: boolean;
  /** The row's true label before poisoning. */
  sourceLabel: number;
  /** The row's label in the (poisoned) training set. */
  label: number;
}

/** Counts and rates of the split against ground truth (docs/method.md, "Metrics"); rates are null for 0/0. */
export interface SplitMetrics {
  rows: number;
  poisonedRows: number;
  cleanRows: number;
  coverRows: number;
  /** rows per split: [truly clean rows, poisoned rows] */
  counts: Record<Split, { clean: number; poisoned: number }>;
  /** share of poisoned rows not in `clean` (the TPR of removal) */
  removalRecall: number | null;
  /** share of poisoned rows in `clean` = 1 - removal recall */
  poisonLeftInClean: number | null;
  /** share of truly clean rows (covers included) not in `clean` (the FPR of removal) */
  cleanLoss: number | null;
  /** share of cover rows not in `clean` */
  coverLoss: number | null;
  /** share of the `poisoned` split that is poisoned */
  poisonedPrecision: number | null;
  /** share of poisoned rows in the `poisoned` split (capped by alpha_p with fixed fractions) */
  poisonedRecall: number | null;
  /** rows that got a label other than their own (relabelled) */
  relabelled: number;
  /** share of relabelled rows whose new label is their source label */
  relabelAccuracy: number | null;
  /** share of relabelled poisoned rows whose new label is their source label */
  relabelAccuracyPoisoned: number | null;
  /** share of the rows trained on (gssdLabel != null) whose training label is wrong (not the source label) */
  trainLabelNoise: number | null;
}

const ratio = (a: number, b: number) => (b > 0 ? a / b : null);

/**
 * Streaming evaluation of a clean / poisoned / uncertain split against ground truth; a few
 * counters, whatever the number of rows.
 *
 * @example
 *   const acc = new SplitMetricsAccumulator();
 *   for (const row of rows) acc.add(row);
 *   acc.result().removalRecall; // 0.998
 */
export class SplitMetricsAccumulator {
  private rows = 0;
  private covers = 0;
  private coversOut = 0;
  private readonly counts: Record<Split, { clean: number; poisoned: number }> = {
    clean: { clean: 0, poisoned: 0 },
    poisoned: { clean: 0, poisoned: 0 },
    uncertain: { clean: 0, poisoned: 0 },
  };
  private relabelled = 0;
  private relabelledRight = 0;
  private relabelledPoisoned = 0;
  private relabelledPoisonedRight = 0;
  private trained = 0;
  private trainedWrong = 0;

  add(row: EvalRow): void {
    this.rows += 1;
    const truth = row.isPoisoned ? 'poisoned' : 'clean';
    this.counts[row.split][truth] += 1;
    if (row.isCover && !row.isPoisoned) {
      this.covers += 1;
      if (row.split !== 'clean') this.coversOut += 1;
    }
    if (row.gssdLabel !== null) {
      this.trained += 1;
      if (row.gssdLabel !== row.sourceLabel) this.trainedWrong += 1;
      if (row.gssdLabel !== row.label) {
        this.relabelled += 1;
        if (row.gssdLabel === row.sourceLabel) this.relabelledRight += 1;
        if (row.isPoisoned) {
          this.relabelledPoisoned += 1;
          if (row.gssdLabel === row.sourceLabel) this.relabelledPoisonedRight += 1;
        }
      }
    }
  }

  result(): SplitMetrics {
    const c = this.counts;
    const poisonedRows = c.clean.poisoned + c.poisoned.poisoned + c.uncertain.poisoned;
    const cleanRows = this.rows - poisonedRows;
    return {
      rows: this.rows,
      poisonedRows,
      cleanRows,
      coverRows: this.covers,
      counts: { clean: { ...c.clean }, poisoned: { ...c.poisoned }, uncertain: { ...c.uncertain } },
      removalRecall: ratio(poisonedRows - c.clean.poisoned, poisonedRows),
      poisonLeftInClean: ratio(c.clean.poisoned, poisonedRows),
      cleanLoss: ratio(cleanRows - c.clean.clean, cleanRows),
      coverLoss: ratio(this.coversOut, this.covers),
      poisonedPrecision: ratio(c.poisoned.poisoned, c.poisoned.poisoned + c.poisoned.clean),
      poisonedRecall: ratio(c.poisoned.poisoned, poisonedRows),
      relabelled: this.relabelled,
      relabelAccuracy: ratio(this.relabelledRight, this.relabelled),
      relabelAccuracyPoisoned: ratio(this.relabelledPoisonedRight, this.relabelledPoisoned),
      trainLabelNoise: ratio(this.trainedWrong, this.trained),
    };
  }
}

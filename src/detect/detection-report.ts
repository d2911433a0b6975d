import type { DTestResult, LowTail } from './d-test.js';
import type { DetectionOptions, TargetDetectionMode } from './options.js';

/** Which test flagged a class. */
export type FlaggingTest = 'D' | 'ND';

/** Everything the detection found about one class. */
export interface ClassDetection {
  label: number;
  /** Rows labelled c. */
  n: number;
  /** The paper's D-test (histogram, valley, decision). */
  dTest: DTestResult;
  /** Robust mode: D statistic (share of rows in the low tail), its outlier index and the cut it must exceed. */
  dRobust: (LowTail & { index: number | null; critical: number | null }) | null;
  ndTest: {
    /** -mean of L[i,c] over rows not labelled c (null if there are none). */
    statistic: number | null;
    nOther: number;
    /** false when the D-test flagged the class (the ND-test runs only on the others). */
    evaluated: boolean;
    /** statistic < beta_ND */
    paperFlag: boolean;
    /** Robust mode: outlier index (low side) against the other classes, and the cut it must exceed. */
    index: number | null;
    critical: number | null;
  };
  flaggedBy: FlaggingTest | null;
}

/** The dataset-level result of target-class detection. */
export interface DetectionReport {
  /** The mode asked for. */
  requestedMode: TargetDetectionMode;
  /** The mode used (robust falls back to paper for K < 3). */
  mode: TargetDetectionMode;
  K: number;
  nRows: number;
  options: DetectionOptions;
  classes: ClassDetection[];
  /** Flagged classes in class order, with the test that flagged them. */
  flagged: { label: number; test: FlaggingTest }[];
  /** No class flagged (which does not show that the data is clean). */
  clean: boolean;
  notes: string[];
}

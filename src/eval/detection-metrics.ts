/** Whether detection found the attacked class. */
export interface DetectionMetrics {
  /** The true target (null: the data is clean). */
  trueTarget: number | null;
  flagged: number[];
  /** The target was flagged (null when there is no target). */
  targetFound: boolean | null;
  /** Flagged classes that are not the target. */
  wronglyFlagged: number[];
  /** Clean data was declared clean (null when there is a target). */
  cleanDeclaredClean: boolean | null;
}

/**
 * Detection outcome given the flagged classes and the true target class.
 *
 * @example
 *   detectionMetrics([0, 4], 0); // { targetFound: true, wronglyFlagged: [4], ... }
 */
export function detectionMetrics(flagged: readonly number[], trueTarget: number | null): DetectionMetrics {
  const f = [...new Set(flagged)].sort((a, b) => a - b);
  return {
    trueTarget,
    flagged: f,
    targetFound: trueTarget === null ? null : f.includes(trueTarget),
    wronglyFlagged: f.filter((c) => c !== trueTarget),
    cleanDeclaredClean: trueTarget === null ? f.length === 0 : null,
  };
}

import { splitRow } from '../../src/detect/split-row.js';
import type { SplitThresholds } from '../../src/detect/split-thresholds.js';
import { MIN_CLASS_ROWS } from '../../src/io/work-files.js';
import type { RowVerdict } from '../../src/stages/route.js';

/**
 * The verdict of a rejected row (label -1 in the work files), with the reason the embed pass
 * logged for it.
 *
 * @example
 *   verdicts.push(rejectedVerdict('undecodable image: ...'));
 */
export function rejectedVerdict(reason: string): RowVerdict {
  return { split: 'rejected', score: null, loglik: null, pred: null, label: null, reason };
}

/**
 * The verdict of a usable row from its likelihood-file row (`L`: its K log-likelihoods): a row
 * of a class without a flow goes to `uncertain`; an eligible row is cut by `splitRow`, with
 * `eligible` its index among the eligible rows in file order (the order detect ranked them in).
 * The local route pass and the distributed route jobs both decide with it.
 *
 * @example
 *   const v = likelihoodVerdict(label, L.subarray(o, o + K), eligible, trainable, thresholds);
 */
export function likelihoodVerdict(label: number, L: Float32Array, eligible: number, trainable: boolean[], thresholds: SplitThresholds): RowVerdict {
  if (!trainable[label]) {
    return {
      split: 'uncertain', score: null, loglik: null, pred: null, label: null,
      reason: `class ${label} has fewer than ${MIN_CLASS_ROWS} rows: no flow to score it`,
    };
  }
  const d = splitRow(label, L, eligible, thresholds);
  return { split: d.split, score: d.score, loglik: d.loglik, pred: d.pred, label: d.trainLabel, reason: d.reason };
}

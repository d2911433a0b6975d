import { compareKeys } from './select-rank.js';
import { sampleScore } from './sample-score.js';
import type { SplitThresholds } from './split-thresholds.js';

/** Where a row goes. */
export type Split = 'clean' | 'poisoned' | 'uncertain';

/** The per-row result of the cleanse, one output contract per row. */
export interface SplitDecision {
  split: Split;
  /** s = L[label] - max over c' != label of L[c']. */
  score: number;
  /** L[label], the own-class log-likelihood per dimension. */
  loglik: number;
  /** argmax_c L[c], the generative prediction. */
  pred: number;
  /** The label to train with: `label` for clean rows, the relabel for ND-poisoned rows, else null. */
  trainLabel: number | null;
  reason: string;
}

/**
 * Route one row (docs/method.md, step 6), given the cuts of `computeSplitThresholds`:
 * - class not flagged: clean, label kept;
 * - ND-flagged class: the highest floor(alpha_c n) scores clean (label kept), the lowest
 *   floor(alpha_p n) poisoned and relabelled to argmax over c' != c of L[c'], the rest uncertain;
 *   with `thresholds.relabelMargin` m, a row of the poisoned cut whose score is not below -m
 *   (its own flow still about as likely as any other) is uncertain instead;
 * - D-flagged class: the lowest floor(alpha_c n) scores clean, the highest floor(alpha_p n)
 *   poisoned and dropped (trainLabel null), the rest uncertain.
 * Order is by (score, rowIndex), so rowIndex must be the row's global index in the same stream.
 *
 * @example
 *   const d = splitRow(chunk.labels[i], chunk.L.subarray(i * K, (i + 1) * K), row0 + i, thresholds);
 *   // { split: 'poisoned', score: -1.2, loglik: -0.8, pred: 3, trainLabel: 3, reason: '...' }
 */
export function splitRow(label: number, row: ArrayLike<number>, rowIndex: number, thresholds: SplitThresholds): SplitDecision {
  const { score, loglik, pred, relabel } = sampleScore(label, row, thresholds.K);
  const cut = thresholds.classes[label];
  if (!cut) {
    const reason = thresholds.clean ? 'no class flagged' : `class ${label} not flagged`;
    return { split: 'clean', score, loglik, pred, trainLabel: label, reason };
  }
  const key = { value: score, rowIndex };
  const low = cut.lowLast !== null && compareKeys(key, cut.lowLast) <= 0;
  const high = cut.highFirst !== null && compareKeys(key, cut.highFirst) >= 0;
  const fixed = thresholds.cutMode === 'fixed';
  const ac = fixed ? `share ${thresholds.alphaClean}` : 'adaptive cut';
  const ap = fixed ? `share ${thresholds.alphaPoisoned}` : 'adaptive cut';
  if (cut.test === 'ND') {
    if (high) return { split: 'clean', score, loglik, pred, trainLabel: label, reason: `ND-flagged class ${label}: score in the highest (clean) ${ac}` };
    const margin = thresholds.relabelMargin;
    if (low && margin != null && !(score < -margin)) {
      return {
        split: 'uncertain',
        score,
        loglik,
        pred,
        trainLabel: null,
        reason: `ND-flagged class ${label}: score in the lowest (poisoned) ${ap}, but not below -${margin} (no other class's flow is clearly more likely): not relabelled`,
      };
    }
    if (low) {
      return {
        split: 'poisoned',
        score,
        loglik,
        pred,
        trainLabel: relabel,
        reason: `ND-flagged class ${label}: score in the lowest (poisoned) ${ap}, relabelled to ${relabel}`,
      };
    }
    return { split: 'uncertain', score, loglik, pred, trainLabel: null, reason: `ND-flagged class ${label}: score between the cuts` };
  }
  if (low) return { split: 'clean', score, loglik, pred, trainLabel: label, reason: `D-flagged class ${label}: score in the lowest (clean) ${ac}` };
  if (high) {
    return { split: 'poisoned', score, loglik, pred, trainLabel: null, reason: `D-flagged class ${label}: score in the highest (poisoned) ${ap}, dropped` };
  }
  return { split: 'uncertain', score, loglik, pred, trainLabel: null, reason: `D-flagged class ${label}: score between the cuts` };
}

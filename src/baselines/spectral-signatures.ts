import { InputError, UsageError } from '../errors.js';
import { RankSelector, compareKeys, type RankKey, type RankSelectorOptions } from '../detect/select-rank.js';
import { computeClassMoments, type ClassMoments } from './class-moments.js';
import { embeddingPass, type EmbeddingReader } from './embedding-chunk.js';
import { symmetricEigen } from './symmetric-eigen.js';

/** Options of `fitSpectral`. */
export interface SpectralOptions extends RankSelectorOptions {
  /** Share of every class removed: 1.5 x the assumed poison rate eps. Default 0.15 (eps = 0.1). */
  spectralRemoveFraction?: number;
  /** Seed of the eigen-solver's start vectors (the result does not depend on it beyond rounding). Default 0. */
  seed?: number;
  /** Per-class moments already computed (e.g. shared with `fitActivationClustering`); saves two passes. */
  moments?: ClassMoments;
}

/** The spectral-signature statistics and cut of one class. */
export interface SpectralClass {
  label: number;
  /** Rows labelled c. */
  n: number;
  /** mu_c, D values (zeros for an empty class). */
  mean: number[];
  /** v_c, the unit top eigenvector of the covariance of h - mu_c (D values; empty for an empty class). */
  direction: number[];
  /** The top eigenvalue of the covariance (the variance along v_c). */
  topEigenvalue: number;
  /** topEigenvalue / (trace / D): how much the top direction stands above an average one (0 if the trace is 0). */
  spikeRatio: number;
  /** spikeRatio / the median spikeRatio of the classes with >= 2 rows (0 if that median is 0). */
  standOut: number;
  /** This class is the suspected target (the largest standOut). Every class loses rows regardless. */
  flagged: boolean;
  /** floor(removeFraction x n): rows removed from this class. */
  nRemoved: number;
  /** Rows of this class with (score, rowIndex) >= cut are removed; null when nRemoved = 0. */
  cut: RankKey | null;
}

/** A fitted Spectral Signatures model: plain data (JSON-safe). */
export interface SpectralModel {
  method: 'spectral-signatures';
  K: number;
  D: number;
  removeFraction: number;
  /** The class whose top eigenvalue stands out most (largest standOut), or null without a class of >= 2 rows. */
  suspectedTarget: number | null;
  /** Sum of nRemoved over the classes. */
  totalRemoved: number;
  classes: SpectralClass[];
  /** Passes over the stream (moments and rank selection). */
  passes: number;
}

/**
 * Spectral Signatures (Tran, Li, Madry, NeurIPS 2018) on the embedding cache, streaming:
 * per class c, the mean mu_c and covariance of h - mu_c (`computeClassMoments`, two passes),
 * the top eigenvector v_c (`symmetricEigen`), the score ((h - mu_c) . v_c)^2 of every row,
 * and the exact cut that removes the top floor(fraction x N_c) scores of EVERY class
 * (`RankSelector` passes, all classes at once, ties by row index: the later row counts as
 * higher). Memory O(K x D^2) for the moments, O(K x (bins + maxCandidates)) for the cuts.
 * The class whose top eigenvalue stands out most (relative to its own average eigenvalue,
 * compared with the median class) is reported as the suspected target.
 *
 * @example
 *   const model = await fitSpectral(read, 10, 512, { spectralRemoveFraction: 0.15 });
 *   let row = 0;
 *   for await (const { h, labels, n } of read()) {
 *     for (let i = 0; i < n; i++, row++) spectralVerdict(model, h.subarray(i * 512, (i + 1) * 512), labels[i], row).removed;
 *   }
 */
export async function fitSpectral(read: EmbeddingReader, K: number, D: number, opts: SpectralOptions = {}): Promise<SpectralModel> {
  const fraction = opts.spectralRemoveFraction ?? 0.15;
  if (!(fraction >= 0 && fraction <= 1)) {
    throw new UsageError(`Expected \`spectralRemoveFraction\` to be a number in [0, 1], got \`${fraction}\``);
  }
  const moments = opts.moments ?? (await computeClassMoments(read, K, D));
  if (moments.K !== K || moments.D !== D) throw new UsageError(`The moments are for K = ${moments.K}, D = ${moments.D}; expected K = ${K}, D = ${D}`);
  let passes = opts.moments ? 0 : moments.passes;

  const classes: SpectralClass[] = moments.n.map((n, label) => {
    const cov = moments.cov[label];
    let direction: number[] = [];
    let topEigenvalue = 0;
    let spikeRatio = 0;
    if (cov) {
      const eig = symmetricEigen(cov, D, 1, opts.seed ?? 0);
      direction = Array.from(eig.vectors);
      topEigenvalue = eig.values[0];
      let trace = 0;
      for (let d = 0; d < D; d++) trace += cov[d * D + d];
      spikeRatio = trace > 0 ? topEigenvalue / (trace / D) : 0;
    }
    const nRemoved = Math.floor(fraction * n);
    return { label, n, mean: Array.from(moments.mean[label]), direction, topEigenvalue, spikeRatio, standOut: 0, flagged: false, nRemoved, cut: null };
  });

  const ratios = classes.filter((c) => c.n >= 2).map((c) => c.spikeRatio);
  const median = medianOf(ratios);
  let suspectedTarget: number | null = null;
  for (const c of classes) {
    if (c.n < 2) continue;
    c.standOut = median > 0 ? c.spikeRatio / median : 0;
    if (suspectedTarget === null || c.standOut > classes[suspectedTarget].standOut) suspectedTarget = c.label;
  }
  if (suspectedTarget !== null) classes[suspectedTarget].flagged = true;

  const selectors = classes.map((c) => (c.nRemoved > 0 ? new RankSelector(c.n - c.nRemoved, opts) : null));
  while (selectors.some((s) => s && !s.done)) {
    for await (const { chunk, row0 } of embeddingPass(read, K, D)) {
      for (let i = 0; i < chunk.n; i++) {
        const y = chunk.labels[i];
        const sel = y >= 0 ? selectors[y] : null;
        if (sel && !sel.done) sel.add(scoreAt(classes[y], chunk.h, i * D, D), row0 + i);
      }
    }
    for (const s of selectors) s?.endPass();
    passes += 1;
  }
  selectors.forEach((s, c) => {
    if (s) classes[c].cut = s.result();
  });
  const totalRemoved = classes.reduce((sum, c) => sum + c.nRemoved, 0);
  return { method: 'spectral-signatures', K, D, removeFraction: fraction, suspectedTarget, totalRemoved, classes, passes };
}

/**
 * The route-pass verdict of one row: its outlier score ((h - mu_c) . v_c)^2 and whether it
 * is among the top floor(fraction x N_c) of its class. `rowIndex` must be the row's global
 * index in the stream the model was fitted on (it breaks ties). A row with a negative label
 * (rejected) is never removed (score 0).
 *
 * @example
 *   const { removed, score } = spectralVerdict(model, h.subarray(i * D, (i + 1) * D), labels[i], row0 + i);
 */
export function spectralVerdict(model: SpectralModel, h: Float32Array, label: number, rowIndex: number): { removed: boolean; score: number } {
  if (label < 0) return { removed: false, score: 0 };
  const cls = model.classes[label];
  if (!cls) throw new InputError(`row ${rowIndex}: label ${label} outside [0, ${model.K})`);
  if (h.length < model.D) throw new InputError(`row ${rowIndex}: h has ${h.length} values, expected ${model.D}`);
  if (cls.n === 0) return { removed: false, score: 0 };
  const score = scoreAt(cls, h, 0, model.D);
  const removed = cls.cut !== null && compareKeys({ value: score, rowIndex }, cls.cut) >= 0;
  return { removed, score };
}

/** ((h - mu) . v)^2 of the row starting at h[offset], in float64. */
function scoreAt(cls: SpectralClass, h: Float32Array, offset: number, D: number): number {
  const { mean, direction } = cls;
  let s = 0;
  for (let d = 0; d < D; d++) s += (h[offset + d] - mean[d]) * direction[d];
  return s * s;
}

function medianOf(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

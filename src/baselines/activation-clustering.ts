import { InputError, UsageError } from '../errors.js';
import { computeClassMoments, type ClassMoments } from './class-moments.js';
import { embeddingPass, type EmbeddingReader } from './embedding-chunk.js';
import { symmetricEigen } from './symmetric-eigen.js';

/** Options of `fitActivationClustering`. */
export interface AcOptions {
  /** Flag a class when its smaller cluster holds less than this share of it. Default 0.35. */
  acSizeThreshold?: number;
  /** Dimensions kept by the per-class PCA (the paper's ICA to 10). Default 10 (at most D). */
  acComponents?: number;
  /** Most Lloyd passes (after the initialising pass). Default 100. */
  acMaxIterations?: number;
  /** Seed of the eigen-solver's start vectors (the result does not depend on it beyond rounding). Default 0. */
  seed?: number;
  /** Per-class moments already computed (e.g. shared with `fitSpectral`); saves two passes. */
  moments?: ClassMoments;
}

/** The PCA and 2-means clustering of one class. */
export interface AcClass {
  label: number;
  /** Rows labelled c. */
  n: number;
  /** mu_c, D values. */
  mean: number[];
  /** The principal axes, m rows of D values (empty for a class of < 2 rows: not clustered). */
  components: number[][];
  /** The variance along each axis (eigenvalues of the covariance), largest first. */
  componentVariance: number[];
  /** The two centroids in the reduced space (m values each); empty when not clustered. */
  centroids: number[][];
  /** Rows assigned to each centroid by the last pass. */
  sizes: number[];
  /** The smaller cluster (ties: 1): the one called poisoned when the class is flagged. */
  poisonCluster: 0 | 1;
  /** sizes[poisonCluster] / n. */
  relativeSize: number;
  /** Mean over the rows of (b - a) / max(a, b), a and b the distances to the own and the other centroid. */
  silhouette: number;
  /** Lloyd passes run for this class. */
  iterations: number;
  /** The last pass left the centroids unchanged (a fixed point). */
  converged: boolean;
  /** 0 < relativeSize < sizeThreshold. */
  flagged: boolean;
  /** Rows removed: sizes[poisonCluster] when flagged, else 0. */
  nRemoved: number;
}

/** A fitted Activation Clustering model: plain data (JSON-safe). */
export interface AcModel {
  method: 'activation-clustering';
  K: number;
  D: number;
  /** m, the reduced dimension. */
  components: number;
  sizeThreshold: number;
  /** The flagged classes, ascending. */
  flagged: number[];
  totalRemoved: number;
  classes: AcClass[];
  /** Passes over the stream. */
  passes: number;
}

/**
 * Activation Clustering (Chen et al., 2018) on the embedding cache, streaming. Per class:
 * 1. reduce h to m = 10 dimensions: r = P_c (h - mu_c), P_c the top-m principal axes of the
 *    class covariance (`computeClassMoments` + `symmetricEigen`; PCA in place of the paper's
 *    ICA, not whitened, so the axes keep their variance);
 * 2. 2-means on r: a deterministic initialising pass splits the rows by the sign of the first
 *    principal coordinate and takes the two means (principal-direction divisive split), then
 *    Lloyd passes (nearest centroid, ties to cluster 0) until the centroids stop changing
 *    (bit for bit) or `acMaxIterations`;
 * 3. flag the class if its smaller cluster holds less than `acSizeThreshold` of it; the rows
 *    of that cluster are removed.
 * All classes share the passes. Memory O(K x D^2) for the moments, O(K x m x D) after.
 *
 * @example
 *   const model = await fitActivationClustering(read, 10, 512, { acSizeThreshold: 0.35 });
 *   model.flagged; // [0]
 *   acVerdict(model, h.subarray(i * 512, (i + 1) * 512), labels[i]).removed;
 */
export async function fitActivationClustering(read: EmbeddingReader, K: number, D: number, opts: AcOptions = {}): Promise<AcModel> {
  const { sizeThreshold, maxIterations, components } = acSettings(opts);
  const m = Math.min(components, D);
  const moments = opts.moments ?? (await computeClassMoments(read, K, D));
  if (moments.K !== K || moments.D !== D) throw new UsageError(`The moments are for K = ${moments.K}, D = ${moments.D}; expected K = ${K}, D = ${D}`);
  let passes = opts.moments ? 0 : moments.passes;
  const classes = principalAxes(moments, m, opts.seed ?? 0);
  passes += await splitByFirstAxis(read, classes, K, D, m);
  passes += await lloydPasses(read, classes, K, D, m, maxIterations);
  flagSmallClusters(classes, sizeThreshold);
  const flagged = classes.filter((c) => c.flagged).map((c) => c.label);
  const totalRemoved = classes.reduce((s, c) => s + c.nRemoved, 0);
  return { method: 'activation-clustering', K, D, components: m, sizeThreshold, flagged, totalRemoved, classes, passes };
}

/** The options with their defaults, checked. */
function acSettings(opts: AcOptions): { sizeThreshold: number; maxIterations: number; components: number } {
  const sizeThreshold = opts.acSizeThreshold ?? 0.35;
  const maxIterations = opts.acMaxIterations ?? 100;
  if (!(sizeThreshold >= 0 && sizeThreshold <= 1)) throw new UsageError(`Expected \`acSizeThreshold\` to be a number in [0, 1], got \`${sizeThreshold}\``);
  if (!Number.isInteger(maxIterations) || maxIterations < 1) {
    throw new UsageError(`Expected \`acMaxIterations\` to be an integer from 1 and up, got \`${maxIterations}\``);
  }
  const components = opts.acComponents ?? 10;
  if (!Number.isInteger(components) || components < 1) throw new UsageError(`Expected \`acComponents\` to be an integer from 1 and up, got \`${components}\``);
  return { sizeThreshold, maxIterations, components };
}

/** Step 1: every class's mean and top-m principal axes (none for a class of < 2 rows: not clustered). */
function principalAxes(moments: ClassMoments, m: number, seed: number): AcClass[] {
  const D = moments.D;
  return moments.n.map((n, label) => {
    const cls: AcClass = {
      label,
      n,
      mean: Array.from(moments.mean[label]),
      components: [],
      componentVariance: [],
      centroids: [],
      sizes: [n, 0],
      poisonCluster: 1,
      relativeSize: 0,
      silhouette: 0,
      iterations: 0,
      converged: false,
      flagged: false,
      nRemoved: 0,
    };
    const cov = moments.cov[label];
    if (cov && n >= 2) {
      const eig = symmetricEigen(cov, D, m, seed);
      cls.components = Array.from({ length: m }, (_, j) => Array.from(eig.vectors.subarray(j * D, (j + 1) * D)));
      cls.componentVariance = Array.from(eig.values);
    }
    return cls;
  });
}

/** Whether a class is clustered (it has principal axes). */
function isClustered(cls: AcClass): boolean {
  return cls.components.length > 0;
}

/**
 * Step 2, the initialising pass: each clustered class's rows split by the sign of their first
 * principal coordinate; the two means are the first centroids. Returns the passes made (1).
 */
async function splitByFirstAxis(read: EmbeddingReader, classes: AcClass[], K: number, D: number, m: number): Promise<number> {
  const clustered = classes.map(isClustered);
  const sums = classes.map(() => [new Float64Array(m), new Float64Array(m)]);
  const counts = classes.map(() => [0, 0]);
  const r = new Float64Array(m);
  const x = new Float64Array(D);
  for await (const { chunk } of embeddingPass(read, K, D)) {
    for (let i = 0; i < chunk.n; i++) {
      const y = chunk.labels[i];
      if (y < 0 || !clustered[y]) continue;
      reduceAt(classes[y], chunk.h, i * D, D, x, r);
      const g = r[0] > 0 ? 1 : 0;
      counts[y][g] += 1;
      for (let j = 0; j < m; j++) sums[y][g][j] += r[j];
    }
  }
  classes.forEach((cls, c) => {
    if (!clustered[c]) return;
    const means = [0, 1].map((g) => (counts[c][g] > 0 ? Array.from(sums[c][g], (s) => s / counts[c][g]) : null));
    cls.centroids = [means[0] ?? means[1]!, means[1] ?? means[0]!];
  });
  return 1;
}

/**
 * Step 2, Lloyd passes (nearest centroid, ties to cluster 0) over the classes still moving,
 * until every class's centroids stop changing (bit for bit) or it ran `maxIterations`; sets
 * each class's sizes, silhouette, iterations and convergence. Returns the passes made.
 */
async function lloydPasses(read: EmbeddingReader, classes: AcClass[], K: number, D: number, m: number, maxIterations: number): Promise<number> {
  const sums = classes.map(() => [new Float64Array(m), new Float64Array(m)]);
  const counts = classes.map(() => [0, 0]);
  const r = new Float64Array(m);
  const x = new Float64Array(D);
  const active = classes.map(isClustered);
  const silhouetteSums = classes.map(() => 0);
  let passes = 0;
  while (active.some(Boolean)) {
    classes.forEach((_, c) => {
      if (!active[c]) return;
      sums[c][0].fill(0);
      sums[c][1].fill(0);
      counts[c][0] = 0;
      counts[c][1] = 0;
      silhouetteSums[c] = 0;
    });
    for await (const { chunk } of embeddingPass(read, K, D)) {
      for (let i = 0; i < chunk.n; i++) {
        const y = chunk.labels[i];
        if (y < 0 || !active[y]) continue;
        const cls = classes[y];
        reduceAt(cls, chunk.h, i * D, D, x, r);
        const d0 = squaredDistance(r, cls.centroids[0]);
        const d1 = squaredDistance(r, cls.centroids[1]);
        const g = d1 < d0 ? 1 : 0;
        counts[y][g] += 1;
        const s = sums[y][g];
        for (let j = 0; j < m; j++) s[j] += r[j];
        const a = Math.sqrt(g ? d1 : d0);
        const b = Math.sqrt(g ? d0 : d1);
        const top = Math.max(a, b);
        if (top > 0) silhouetteSums[y] += (b - a) / top;
      }
    }
    passes += 1;
    classes.forEach((cls, c) => {
      if (!active[c]) return;
      cls.iterations += 1;
      cls.sizes = [counts[c][0], counts[c][1]];
      cls.silhouette = silhouetteSums[c] / cls.n;
      const next = [0, 1].map((g) => (counts[c][g] > 0 ? Array.from(sums[c][g], (s) => s / counts[c][g]) : cls.centroids[g]));
      if (next.every((v, g) => v.every((value, j) => value === cls.centroids[g][j]))) {
        cls.converged = true;
        active[c] = false;
      } else if (cls.iterations >= maxIterations) {
        active[c] = false; // keep the centroids the sizes were counted with
      } else {
        cls.centroids = next;
      }
    });
  }
  return passes;
}

/** Step 3: a class is flagged when its smaller cluster holds less than `sizeThreshold` of it; that cluster's rows are removed. */
function flagSmallClusters(classes: AcClass[], sizeThreshold: number): void {
  for (const cls of classes) {
    if (!isClustered(cls)) continue;
    cls.poisonCluster = cls.sizes[0] < cls.sizes[1] ? 0 : 1;
    const small = cls.sizes[cls.poisonCluster];
    cls.relativeSize = small / cls.n;
    cls.flagged = small > 0 && cls.relativeSize < sizeThreshold;
    cls.nRemoved = cls.flagged ? small : 0;
  }
}

/**
 * The route-pass verdict of one row: removed when its class is flagged and the row's nearest
 * centroid (in the class's reduced space) is the smaller cluster's. `score` is the distance
 * margin ||r - c_other|| - ||r - c_poison|| (> 0: on the poisoned side), for every clustered
 * class, flagged or not. Rows with a negative label (rejected) or of a class too small to
 * cluster get { removed: false, score: 0 }.
 *
 * @example
 *   const { removed, score } = acVerdict(model, h.subarray(i * D, (i + 1) * D), labels[i]);
 */
export function acVerdict(model: AcModel, h: Float32Array, label: number): { removed: boolean; score: number } {
  if (label < 0) return { removed: false, score: 0 };
  const cls = model.classes[label];
  if (!cls) throw new InputError(`label ${label} outside [0, ${model.K})`);
  if (h.length < model.D) throw new InputError(`h has ${h.length} values, expected ${model.D}`);
  if (cls.components.length === 0) return { removed: false, score: 0 };
  const r = new Float64Array(model.components);
  reduceAt(cls, h, 0, model.D, new Float64Array(model.D), r);
  const d0 = squaredDistance(r, cls.centroids[0]);
  const d1 = squaredDistance(r, cls.centroids[1]);
  const g = d1 < d0 ? 1 : 0;
  const p = cls.poisonCluster;
  const score = Math.sqrt(p ? d0 : d1) - Math.sqrt(p ? d1 : d0);
  return { removed: cls.flagged && g === p, score };
}

/** r = P (h - mu) for the row starting at h[offset]; x is scratch (D values). */
function reduceAt(cls: AcClass, h: Float32Array, offset: number, D: number, x: Float64Array, r: Float64Array): void {
  for (let d = 0; d < D; d++) x[d] = h[offset + d] - cls.mean[d];
  for (let j = 0; j < r.length; j++) {
    const p = cls.components[j];
    let s = 0;
    for (let d = 0; d < D; d++) s += p[d] * x[d];
    r[j] = s;
  }
}

function squaredDistance(r: Float64Array, c: number[]): number {
  let s = 0;
  for (let j = 0; j < r.length; j++) {
    const t = r[j] - c[j];
    s += t * t;
  }
  return s;
}

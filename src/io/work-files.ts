/**
 * The cleanse's work files (docs/architecture.md, "Work files"): what lies under DIR/work
 * between the passes, their row layouts and the rows that take part in detection. Every pass,
 * job and baseline that reads or writes them goes through this module.
 *
 *   embeddings.f32   one row per input row, in input order: h (D values), then the label
 *                    (REJECTED_LABEL for a row without an embedding; its h is zeros)
 *   likelihood.f32   one row per input row: L[0..K) (per-dimension log-likelihoods), then the
 *                    label; a rejected row has NaN likelihoods and REJECTED_LABEL
 *   rejected.jsonl   why each rejected row was rejected (src/io/reject-log.ts)
 *   ids.i64          every row's id, for the duplicate count (src/io/duplicate-ids.ts)
 *   knn.f32          Deep k-NN's per-row result (src/baselines/deep-knn.ts, KNN_COLUMNS)
 *   fit-sample.f32   with --fit-rows-per-class: the eligible rows of the fit sample, in cache
 *                    order, as embeddings.f32 (src/stages/fit-sample.ts); the fit epochs read it
 *   jobs/            the per-shard and per-class files of a distributed run
 *
 * The eligible rows (a usable label of a class with a flow) are the ones detection sees; detect
 * numbers them in file order and route must count them in the same order (`isEligible`).
 */
import { join } from 'node:path';
import { readMatrix } from './matrix-file.js';

/** The label a work-file row carries when its input row was rejected (no usable image or embedding). */
export const REJECTED_LABEL = -1;

/** Classes with fewer rows than this get no flow: their rows go to `uncertain`. */
export const MIN_CLASS_ROWS = 2;

/** The paths of a run's work files. */
export interface WorkFiles {
  dir: string;
  embeddings: string;
  likelihood: string;
  rejected: string;
  ids: string;
  knn: string;
  /** The fit sample's rows (`--fit-rows-per-class`), what the fit epochs read instead of `embeddings`. */
  fitSample: string;
  /** The directory of a distributed run's job files. */
  jobs: string;
}

/**
 * The work files of the run in `out`.
 *
 * @example
 *   const files = workFiles('run');   // files.embeddings === 'run/work/embeddings.f32'
 */
export function workFiles(out: string): WorkFiles {
  const dir = join(out, 'work');
  return {
    dir,
    embeddings: join(dir, 'embeddings.f32'),
    likelihood: join(dir, 'likelihood.f32'),
    rejected: join(dir, 'rejected.jsonl'),
    ids: join(dir, 'ids.i64'),
    knn: join(dir, 'knn.f32'),
    fitSample: join(dir, 'fit-sample.f32'),
    jobs: join(dir, 'jobs'),
  };
}

/**
 * Which classes can have a flow (enough rows).
 *
 * @example
 *   trainableClasses([5, 1, 3], 4)   // [true, false, true, false]
 */
export function trainableClasses(labelCounts: number[], numClasses: number): boolean[] {
  return Array.from({ length: numClasses }, (_, c) => (labelCounts[c] ?? 0) >= MIN_CLASS_ROWS);
}

/**
 * Whether a row with this work-file label takes part in detection and the split (not rejected,
 * of a class with a flow).
 *
 * @example
 *   if (isEligible(label, trainable)) eligibleIndex++;
 */
export function isEligible(label: number, trainable: boolean[]): boolean {
  return label >= 0 && trainable[label] === true;
}

/** The number of eligible rows, from the label counts of the usable rows. */
export function eligibleRowCount(labelCounts: number[], trainable: boolean[]): number {
  return labelCounts.reduce((s, n, c) => s + (trainable[c] ? n : 0), 0);
}

/** Columns of the embedding cache: h (featureDim values), then the label. */
export function embeddingColumns(featureDim: number): number {
  return featureDim + 1;
}

/**
 * Embedding-cache rows of n rows: h where `valid`, then the label (REJECTED_LABEL and zeros
 * where not valid).
 *
 * @example
 *   const rows = embeddingRows(features, valid, (i) => labels[i], n, 512);
 */
export function embeddingRows(features: Float32Array, valid: Uint8Array, labelOf: (row: number) => number, n: number, D: number): Float32Array {
  const cols = embeddingColumns(D);
  const rows = new Float32Array(n * cols);
  for (let i = 0; i < n; i++) {
    if (valid[i]) {
      rows.set(features.subarray(i * D, (i + 1) * D), i * cols);
      rows[i * cols + D] = labelOf(i);
    } else {
      rows[i * cols + D] = REJECTED_LABEL;
    }
  }
  return rows;
}

/** Rows of h (n x D) and their labels, as read back from the embedding cache. */
export interface EmbeddingRows {
  h: Float32Array;
  labels: Int32Array;
  n: number;
}

/**
 * Splits n embedding-cache rows into h and labels, keeping the rows that `keep` accepts (all
 * rows without it); `keep` gets a row's label and its position k among the n rows.
 *
 * @example
 *   const { h, labels, n } = splitEmbeddingRows(chunk.rows, chunk.n, 512, (label) => label >= 0);
 */
export function splitEmbeddingRows(rows: Float32Array, count: number, D: number, keep?: (label: number, k: number) => boolean): EmbeddingRows {
  const cols = embeddingColumns(D);
  const kept: number[] = [];
  for (let k = 0; k < count; k++) if (!keep || keep(rows[k * cols + D], k)) kept.push(k);
  const h = new Float32Array(kept.length * D);
  const labels = new Int32Array(kept.length);
  kept.forEach((k, j) => {
    h.set(rows.subarray(k * cols, k * cols + D), j * D);
    labels[j] = rows[k * cols + D];
  });
  return { h, labels, n: kept.length };
}

/**
 * The embedding cache as chunks of h and labels, read again from row 0 on every call; every row
 * is kept (rejected rows with their label -1), so row indices are the cache's.
 *
 * @example
 *   for await (const { h, labels, n } of embeddingReader('run/work/embeddings.f32', 512)()) use(h, labels, n);
 */
export function embeddingReader(path: string, D: number, { chunkRows = 4096 }: { chunkRows?: number } = {}): () => AsyncIterable<EmbeddingRows> {
  return async function* () {
    for await (const { rows, n } of readMatrix(path, embeddingColumns(D), { chunkRows })) yield splitEmbeddingRows(rows, n, D);
  };
}

/** Columns of the likelihood file: L[i, 0..K), then the label. */
export function likelihoodColumns(numClasses: number): number {
  return numClasses + 1;
}

/**
 * Likelihood-file rows of n rows: L (n x K) then the label; a rejected row (label < 0) gets NaN
 * likelihoods.
 *
 * @example
 *   await writer.append(likelihoodRows(L, labels, n, K));
 */
export function likelihoodRows(L: Float32Array, labels: ArrayLike<number>, n: number, K: number): Float32Array {
  const cols = likelihoodColumns(K);
  const out = new Float32Array(n * cols);
  for (let i = 0; i < n; i++) {
    const label = labels[i];
    for (let c = 0; c < K; c++) out[i * cols + c] = label < 0 ? NaN : L[i * K + c];
    out[i * cols + K] = label;
  }
  return out;
}

/** A chunk of eligible rows of the likelihood file (the shape of `LikelihoodChunk`). */
export interface EligibleRows {
  labels: Int32Array;
  /** n x K, row-major. */
  L: Float32Array;
  n: number;
}

/**
 * The rows that take part in detection and the split (`isEligible`), as chunks of labels and
 * likelihoods, read again from the likelihood file on every call, in file order: rejected rows
 * and rows of classes without a flow are left out (they go to `rejected` / `uncertain` directly).
 *
 * @example
 *   const read = eligibleReader('run/work/likelihood.f32', 10, trainable);
 *   const detection = await detectTargets(read, 10, options);
 */
export function eligibleReader(path: string, K: number, trainable: boolean[]): () => AsyncIterable<EligibleRows> {
  const cols = likelihoodColumns(K);
  return async function* () {
    for await (const chunk of readMatrix(path, cols, { chunkRows: 8192 })) {
      const labels = new Int32Array(chunk.n);
      const L = new Float32Array(chunk.n * K);
      let n = 0;
      for (let i = 0; i < chunk.n; i++) {
        const label = chunk.rows[i * cols + K];
        if (!isEligible(label, trainable)) continue;
        labels[n] = label;
        L.set(chunk.rows.subarray(i * cols, i * cols + K), n * K);
        n++;
      }
      yield { labels: labels.subarray(0, n), L: L.subarray(0, n * K), n };
    }
  };
}

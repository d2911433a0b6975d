/**
 * `--fit-rows-per-class N`: the rows each class's flow is fitted on, a seeded sample of about N
 * rows of the class (README, "Fitting the flows on a sample"). Row `row` of the embedding cache
 * (its global index: input order, the same on every engine and on resume) with label c is in
 * the sample iff `sampleHash(seed, row) / 2^32 < p_c`, p_c = min(1, N / n_c), n_c the class's
 * usable rows after the embed pass. So a class gets Binomial(n_c, p_c) rows, about N; which rows
 * is a pure function of (seed, row), so it needs no memory, and a class with at most N rows is
 * fitted on all of them (p_c = 1: the same fit as without the option).
 */
import { hashString } from '../rng.js';
import { embeddingColumns } from '../io/work-files.js';
import { readMatrix } from '../io/matrix-file.js';

/**
 * murmur3's 32-bit finaliser: a bijection of uint32 whose every output bit depends on every
 * input bit.
 */
function fmix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/**
 * A uint32 hash of (seed, row index), rows up to 2^53: the seed's key, then the row's low and
 * high 32-bit words, each mixed in with `fmix32`.
 *
 * @example
 *   sampleHash(0, 12345) / 2 ** 32   // a uniform-looking number in [0, 1)
 */
export function sampleHash(seed: number, row: number): number {
  let h = hashString(`${seed}:fit-sample`);
  h = fmix32(h ^ (row >>> 0));
  return fmix32(h ^ Math.floor(row / 4294967296));
}

/**
 * The fit sample of a run: which rows of each class its flow sees.
 *
 * @example
 *   const sample = new FitSample(50_000, state.embed.labelCounts, options.seed);
 *   const accept = (label: number, row: number) => isEligible(label, trainable) && sample.has(label, row);
 */
export class FitSample {
  /** Per class: a row is in the sample iff its hash is below this (p_c x 2^32; 2^32 takes every row). */
  private readonly below: number[];

  constructor(
    /** N: the rows per class the sample aims at. */
    readonly rowsPerClass: number,
    /** n_c: usable rows per class (the embed pass's label counts). */
    labelCounts: readonly number[],
    readonly seed: number,
  ) {
    if (!Number.isInteger(rowsPerClass) || rowsPerClass < 1) throw new RangeError(`Expected \`fitRowsPerClass\` to be an integer from 1 and up, got \`${rowsPerClass}\``);
    this.below = labelCounts.map((n) => Math.min(1, rowsPerClass / Math.max(n ?? 0, 1)) * 4294967296);
  }

  /** p_c: the chance that a row of class c is in the sample. */
  rate(label: number): number {
    return Math.min(1, (this.below[label] ?? 4294967296) / 4294967296);
  }

  /** Whether row `row` (global index in the embedding cache) of class `label` is in the sample. */
  has(label: number, row: number): boolean {
    const below = this.below[label];
    return below === undefined || below >= 4294967296 || sampleHash(this.seed, row) < below;
  }

  /**
   * Adds the sampled rows of n embedding-cache rows (`firstRow`: the global index of the first)
   * to `counts` by label; rejected rows (label < 0) are not counted.
   *
   * @example
   *   for await (const { rows, n } of readMatrix(cache, D + 1)) { sample.count(rows, n, D, at, counts); at += n; }
   */
  count(rows: Float32Array, n: number, featureDim: number, firstRow: number, counts: number[]): void {
    const cols = embeddingColumns(featureDim);
    for (let i = 0; i < n; i++) {
      const label = rows[i * cols + featureDim];
      if (label >= 0 && this.has(label, firstRow + i)) counts[label] = (counts[label] ?? 0) + 1;
    }
  }
}

/**
 * The fit sample of a run with `fitRowsPerClass`, or null without it (every row fits).
 *
 * @example
 *   const sample = fitSampleOf(options.fitRowsPerClass, state.embed.labelCounts, options.seed);
 */
export function fitSampleOf(rowsPerClass: number | undefined, labelCounts: readonly number[], seed: number): FitSample | null {
  return rowsPerClass === undefined ? null : new FitSample(rowsPerClass, labelCounts, seed);
}

/**
 * The sampled rows per class of an embedding cache (one pass over it): what each flow is fitted
 * on per epoch.
 *
 * @example
 *   state.fit.rowsFitted = await countFitSample('run/work/embeddings.f32', 512, sample, 10);
 */
export async function countFitSample(cache: string, featureDim: number, sample: FitSample, numClasses: number): Promise<number[]> {
  const counts = new Array<number>(numClasses).fill(0);
  let at = 0;
  for await (const { rows, n } of readMatrix(cache, embeddingColumns(featureDim), { chunkRows: 8192 })) {
    sample.count(rows, n, featureDim, at, counts);
    at += n;
  }
  return counts;
}

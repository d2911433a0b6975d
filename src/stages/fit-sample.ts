/**
 * `--fit-rows-per-class N`: the rows each class's flow is fitted on, a seeded sample of about N
 * rows of the class (README, "Fitting the flows on a sample"). Row `row` of the embedding cache
 * (its global index: input order, the same on every engine and on resume) with label c is in
 * the sample iff `sampleHash(seed, row) / 2^32 < p_c`, p_c = min(1, N / n_c), n_c the class's
 * usable rows after the embed pass. So a class gets Binomial(n_c, p_c) rows, about N; which rows
 * is a pure function of (seed, row), so it needs no memory, and a class with at most N rows is
 * fitted on all of them (p_c = 1). The sampled rows are written once, in cache order, to their
 * own file (`FitSampleFile`), and every fit epoch shuffles that file: a class of at most N rows
 * is fitted on the same rows as without the option, but in the same order only when the file is
 * the whole cache (every class whole, no row rejected and every class with a flow).
 */
import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { hashString } from '../rng.js';
import { syncDir } from '../atomic-file.js';
import { embeddingColumns, isEligible } from '../io/work-files.js';
import { MatrixWriter, readMatrix } from '../io/matrix-file.js';

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
  return keyedHash(seedKey(seed), row);
}

/** The seed's key of `sampleHash`. */
function seedKey(seed: number): number {
  return hashString(`${seed}:fit-sample`);
}

/** `sampleHash` from the seed's key (computed once per sample, not per row). */
function keyedHash(key: number, row: number): number {
  const h = fmix32(key ^ (row >>> 0));
  return fmix32(h ^ Math.floor(row / 4294967296));
}

/**
 * The fit sample of a run: which rows of each class its flow sees.
 *
 * @example
 *   const sample = new FitSample(50_000, state.embed.labelCounts, options.seed);
 *   if (label >= 0 && sample.has(label, row)) counts[label]++;   // row: its index in the cache
 */
export class FitSample {
  /** Per class: a row is in the sample iff its hash is below this (p_c x 2^32; 2^32 takes every row). */
  private readonly below: number[];
  /** `sampleHash`'s key of the seed. */
  private readonly key: number;

  constructor(
    /** N: the rows per class the sample aims at. */
    readonly rowsPerClass: number,
    /** n_c: usable rows per class (the embed pass's label counts). */
    labelCounts: readonly number[],
    readonly seed: number,
  ) {
    if (!Number.isInteger(rowsPerClass) || rowsPerClass < 1) throw new RangeError(`Expected \`fitRowsPerClass\` to be an integer from 1 and up, got \`${rowsPerClass}\``);
    this.key = seedKey(seed);
    this.below = labelCounts.map((n) => Math.min(1, rowsPerClass / Math.max(n ?? 0, 1)) * 4294967296);
  }

  /** p_c: the chance that a row of class c is in the sample. */
  rate(label: number): number {
    return Math.min(1, (this.below[label] ?? 4294967296) / 4294967296);
  }

  /** Whether row `row` (global index in the embedding cache) of class `label` is in the sample. */
  has(label: number, row: number): boolean {
    const below = this.below[label];
    return below === undefined || below >= 4294967296 || keyedHash(this.key, row) < below;
  }

  /**
   * Which of n embedding-cache rows (`firstRow`: the cache index of the first) are in the sample:
   * their indices in the chunk, in order; rejected rows (label < 0) never are.
   *
   * @example
   *   for await (const { rows, n, start } of readMatrix(cache, D + 1)) for (const i of sample.sampledRows(rows, n, D, start)) ...
   */
  sampledRows(rows: Float32Array, n: number, featureDim: number, firstRow: number): number[] {
    const cols = embeddingColumns(featureDim);
    const picked: number[] = [];
    for (let i = 0; i < n; i++) {
      const label = rows[i * cols + featureDim];
      if (label >= 0 && this.has(label, firstRow + i)) picked.push(i);
    }
    return picked;
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
 * The fit-sample file being written (DIR/work/fit-sample.f32): the rows of the embedding cache
 * that a flow is fitted on, the eligible rows (a usable label of a class with a flow) in the
 * sample, in cache order, in the cache's row layout (h then the label). Fed the cache's chunks in
 * order (`add`), it keeps only those rows (memory: one chunk) and counts the sampled rows per
 * class; `finish` moves the file into place under its name (written under a temporary one until
 * then, so the name holds a whole sample or nothing).
 *
 * @example
 *   const out = await FitSampleFile.open('run/work/fit-sample.f32', 512, sample, trainable);
 *   for await (const { rows, start, n } of readMatrix(cache, 513)) await out.add(rows, n, start);
 *   const rowsFitted = await out.finish();
 */
export class FitSampleFile {
  /** Sampled rows per class (label >= 0; a class without a flow is counted, not written): `state.fit.rowsFitted`. */
  readonly counts: number[];

  private constructor(
    private readonly path: string,
    private readonly tmp: string,
    private readonly writer: MatrixWriter,
    private readonly featureDim: number,
    private readonly sample: FitSample,
    private readonly trainable: boolean[],
  ) {
    this.counts = new Array<number>(trainable.length).fill(0);
  }

  /** Starts writing the sample of a cache with `featureDim` features to `path` (classes: `trainable.length`). */
  static async open(path: string, featureDim: number, sample: FitSample, trainable: boolean[]): Promise<FitSampleFile> {
    const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    const writer = await MatrixWriter.open(tmp, embeddingColumns(featureDim), { flushRows: 16384 });
    return new FitSampleFile(path, tmp, writer, featureDim, sample, trainable);
  }

  /** The rows written so far. */
  get rows(): number {
    return this.writer.rows;
  }

  /** Takes the next n cache rows (`firstRow`: the cache index of the first; chunks must come in cache order). */
  async add(rows: Float32Array, n: number, firstRow: number): Promise<void> {
    const D = this.featureDim;
    const cols = embeddingColumns(D);
    const kept: number[] = [];
    for (const i of this.sample.sampledRows(rows, n, D, firstRow)) {
      const label = rows[i * cols + D];
      this.counts[label] = (this.counts[label] ?? 0) + 1;
      if (isEligible(label, this.trainable)) kept.push(i);
    }
    if (kept.length === 0) return;
    const out = new Float32Array(kept.length * cols);
    kept.forEach((i, j) => out.set(rows.subarray(i * cols, (i + 1) * cols), j * cols));
    await this.writer.append(out);
  }

  /** Closes the file, moves it into place and returns the sampled rows per class. */
  async finish(): Promise<number[]> {
    await this.writer.close();
    await rename(this.tmp, this.path);
    await syncDir(dirname(this.path));
    return this.counts;
  }

  /** Drops the temporary file (after a failure). */
  async abort(): Promise<void> {
    await this.writer.close().catch(() => {});
    await rm(this.tmp, { force: true });
  }
}

/**
 * Writes the fit sample of an embedding cache to `out` in one streaming pass (`FitSampleFile`)
 * and returns the sampled rows per class (label >= 0, the classes without a flow included: what
 * `state.fit.rowsFitted` records). The file holds the sampled rows of the classes with a flow:
 * their sum over those classes.
 *
 * @example
 *   state.fit.rowsFitted = await writeFitSample('run/work/embeddings.f32', 512, sample, trainable, 'run/work/fit-sample.f32');
 */
export async function writeFitSample(cache: string, featureDim: number, sample: FitSample, trainable: boolean[], out: string): Promise<number[]> {
  const file = await FitSampleFile.open(out, featureDim, sample, trainable);
  try {
    for await (const { rows, n, start } of readMatrix(cache, embeddingColumns(featureDim), { chunkRows: 8192 })) await file.add(rows, n, start);
  } catch (err) {
    await file.abort();
    throw err;
  }
  return file.finish();
}

/**
 * The rows of the fit-sample file: the sampled rows of the classes with a flow.
 *
 * @example
 *   const rows = fitSampleRows(state.fit.rowsFitted, trainable);
 */
export function fitSampleRows(rowsFitted: readonly number[], trainable: readonly boolean[]): number {
  return rowsFitted.reduce((s, n, c) => s + (trainable[c] ? n ?? 0 : 0), 0);
}

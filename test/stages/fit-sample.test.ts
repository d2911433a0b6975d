import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { FitSample, fitSampleOf, fitSampleRows, sampleHash, writeFitSample } from '../../src/stages/fit-sample.js';
import { MatrixWriter, matrixRows, readMatrix } from '../../src/io/matrix-file.js';
import { embeddingColumns, trainableClasses } from '../../src/io/work-files.js';
import { tempDir } from '../pipelines/fixture.js';

/** Labels of a cache of `counts[c]` rows per class, interleaved as a dataset would be, with some rejected rows (-1). */
function labelsOf(counts: number[], rejectedEvery = 0): number[] {
  const left = [...counts];
  const labels: number[] = [];
  for (let i = 0; left.some((n) => n > 0); i++) {
    if (rejectedEvery && i % rejectedEvery === 0) labels.push(-1);
    const c = i % counts.length;
    if (left[c] > 0) {
      labels.push(c);
      left[c]--;
    }
  }
  return labels;
}

/** Embedding-cache rows (D = 2, h all zeros) with these labels. */
function cacheRows(labels: number[], D = 2): Float32Array {
  const cols = embeddingColumns(D);
  const rows = new Float32Array(labels.length * cols);
  labels.forEach((label, i) => (rows[i * cols + D] = label));
  return rows;
}

const rowsOfClass = (sample: FitSample, labels: number[], c: number) => labels.flatMap((l, i) => (l === c && sample.has(l, i) ? [i] : []));

/** Adds the sampled rows of a chunk of cache rows to `counts` by label (`FitSample.sampledRows`). */
function countSampled(sample: FitSample, rows: Float32Array, n: number, D: number, firstRow: number, counts: number[]): number[] {
  for (const i of sample.sampledRows(rows, n, D, firstRow)) counts[rows[i * embeddingColumns(D) + D]]++;
  return counts;
}

describe('FitSample (--fit-rows-per-class)', () => {
  it('hashes (seed, row) deterministically into uint32s that look uniform', () => {
    expect(sampleHash(7, 123_456)).toBe(sampleHash(7, 123_456));
    expect(sampleHash(7, 123_456)).not.toBe(sampleHash(8, 123_456));
    // rows beyond 2^32 are hashed with their high word too
    expect(sampleHash(7, 5)).not.toBe(sampleHash(7, 5 + 2 ** 32));
    const n = 100_000;
    let mean = 0;
    const deciles = new Array(10).fill(0);
    let bad = 0;
    for (let i = 0; i < n; i++) {
      const h = sampleHash(3, i);
      if (!(Number.isInteger(h) && h >= 0 && h < 2 ** 32)) bad++;
      mean += h / 2 ** 32 / n;
      deciles[Math.floor((h / 2 ** 32) * 10)]++;
    }
    expect(bad).toBe(0);
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.005); // sd of the mean: 0.29 / sqrt(n) = 0.0009
    for (const d of deciles) expect(Math.abs(d - n / 10)).toBeLessThan(5 * Math.sqrt(n * 0.09)); // 5 sd of Binomial(n, 0.1)
  });

  it('takes about N rows of each larger class (binomial), every row of a class of at most N', () => {
    const counts = [20_000, 5_000, 1_200, 300, 40];
    const labels = labelsOf(counts, 7);
    const N = 1_000;
    const sample = new FitSample(N, counts, 11);
    const got = countSampled(sample, cacheRows(labels), labels.length, 2, 0, new Array(counts.length).fill(0));
    counts.forEach((n, c) => {
      const p = Math.min(1, N / n);
      expect(sample.rate(c)).toBeCloseTo(p, 12);
      // within 5 standard deviations of Binomial(n_c, p_c); exactly n_c when p_c = 1
      expect(Math.abs(got[c] - n * p), `class ${c}: ${got[c]} of ${n}`).toBeLessThanOrEqual(5 * Math.sqrt(n * p * (1 - p)));
      expect(got[c]).toBe(rowsOfClass(sample, labels, c).length);
    });
    expect(got.slice(3)).toEqual([300, 40]);
    // picking in pieces (as the merge job and the local pass read the cache in chunks) gives the same rows
    const pieces = new Array(counts.length).fill(0);
    const all = cacheRows(labels);
    const cols = embeddingColumns(2);
    for (let at = 0; at < labels.length; at += 999) {
      const n = Math.min(999, labels.length - at);
      countSampled(sample, all.subarray(at * cols, (at + n) * cols), n, 2, at, pieces);
    }
    expect(pieces).toEqual(got);
  });

  it('is the same sample for the same seed and another for another seed', () => {
    const counts = [5_000, 5_000];
    const labels = labelsOf(counts);
    const a = rowsOfClass(new FitSample(500, counts, 1), labels, 0);
    const again = rowsOfClass(new FitSample(500, counts, 1), labels, 0);
    const b = rowsOfClass(new FitSample(500, counts, 2), labels, 0);
    expect(again).toEqual(a);
    expect(b).not.toEqual(a);
    // independent samples of p = 0.1 share about 0.1 of their rows, not most of them
    const shared = b.filter((i) => new Set(a).has(i)).length;
    expect(shared / a.length).toBeLessThan(0.3);
  });

  it('writes the sample of a cache file once: its eligible rows in cache order, as the cache, and their counts', async () => {
    // class 3 has one row: no flow (counted in the sample, not written); every 5th row rejected
    const counts = [3_000, 700, 50, 1];
    const labels = labelsOf(counts, 5);
    const D = 2;
    const cols = embeddingColumns(D);
    const rows = cacheRows(labels, D);
    labels.forEach((_, i) => {
      rows[i * cols] = i; // h tells which cache row a written row is
      rows[i * cols + 1] = -i / 2;
    });
    const dir = await tempDir('fit-sample');
    const cache = join(dir, 'cache.f32');
    const w = await MatrixWriter.open(cache, cols);
    await w.append(rows);
    await w.close();
    const sample = new FitSample(200, counts, 4);
    const trainable = trainableClasses(counts, counts.length);
    expect(trainable).toEqual([true, true, true, false]);
    const expected = countSampled(sample, rows, labels.length, D, 0, new Array(4).fill(0));
    expect(expected[3]).toBe(1); // p = 1 for a class of at most N rows

    const out = join(dir, 'fit-sample.f32');
    const got = await writeFitSample(cache, D, sample, trainable, out);
    expect(got).toEqual(expected);
    // the rows of the classes with a flow in the sample, in cache order: no rejected row, none of class 3
    const want = labels.flatMap((l, i) => (l >= 0 && trainable[l] && sample.has(l, i) ? [i] : []));
    expect(want.length).toBe(fitSampleRows(got, trainable));
    expect(want.length).toBeLessThan(labels.length / 3);
    expect(await matrixRows(out, cols)).toBe(want.length);
    const written: number[] = [];
    for await (const chunk of readMatrix(out, cols, { chunkRows: 100 })) {
      for (let k = 0; k < chunk.n; k++) {
        const i = chunk.rows[k * cols];
        expect([chunk.rows[k * cols + 1], chunk.rows[k * cols + D]]).toEqual([-i / 2, labels[i]]);
        written.push(i);
      }
    }
    expect(written).toEqual(want);
    // nothing left under a temporary name; written again, the same file
    expect((await readdir(dir)).sort()).toEqual(['cache.f32', 'fit-sample.f32']);
    const first = await readFile(out);
    expect(await writeFitSample(cache, D, sample, trainable, out)).toEqual(expected);
    expect((await readFile(out)).equals(first)).toBe(true);
    // a cache that cannot be read leaves no file behind
    await expect(writeFitSample(join(dir, 'missing.f32'), D, sample, trainable, join(dir, 'other.f32'))).rejects.toThrow(/missing\.f32/);
    expect(existsSync(join(dir, 'other.f32'))).toBe(false);
    expect((await readdir(dir)).sort()).toEqual(['cache.f32', 'fit-sample.f32']);
  });

  it('has no sample without the option and refuses a count that is not a positive integer', () => {
    expect(fitSampleOf(undefined, [10, 10], 0)).toBeNull();
    for (const bad of [0, -3, 1.5, NaN]) expect(() => new FitSample(bad, [10], 0)).toThrow(/fitRowsPerClass/);
  });
});

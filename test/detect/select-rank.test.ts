import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/rng.js';
import { RankSelector, compareKeys, selectRank, type ValueChunk } from '../../src/detect/select-rank.js';

function stream(values: Float32Array | Float64Array, chunk: number): () => Iterable<ValueChunk> {
  return function* () {
    for (let s = 0; s < values.length; s += chunk) yield { values: values.subarray(s, s + chunk), rowIndex0: s };
  };
}

function sortedKeys(values: ArrayLike<number>) {
  return Array.from(values, (value, rowIndex) => ({ value, rowIndex })).sort(compareKeys);
}

describe('selectRank', () => {
  it('is exact on 200k values with many ties, against a full sort', async () => {
    const rng = new Rng(7);
    const n = 200_000;
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = Math.round(rng.normal() * 40) / 40; // ~400 distinct values
    const sorted = sortedKeys(values);
    for (const k of [0, 1, 1234, 29_999, 100_000, 170_000, n - 1]) {
      const got = await selectRank(stream(values, 4096), k, { bins: 256 });
      expect({ value: got.value, rowIndex: got.rowIndex }).toEqual(sorted[k]);
      expect(got.passes).toBeLessThanOrEqual(6);
    }
  });

  it('refines on the row index when the candidates all share one value', async () => {
    const values = new Float64Array(10_000).fill(0.25);
    values[17] = -1;
    values[9_000] = 3;
    for (const k of [0, 1, 2, 5_000, 9_998, 9_999]) {
      const got = await selectRank(stream(values, 1000), k, { bins: 8, maxCandidates: 4 });
      expect({ value: got.value, rowIndex: got.rowIndex }).toEqual(sortedKeys(values)[k]);
    }
  });

  it('uses explicit row indices (a class subsequence of the stream)', async () => {
    const chunks: ValueChunk[] = [
      { values: [3, 1, 2], rowIndex: [10, 4, 7] },
      { values: [1, 5], rowIndex: [2, 30] },
    ];
    expect(await selectRank(() => chunks, 0)).toMatchObject({ value: 1, rowIndex: 2 });
    expect(await selectRank(() => chunks, 1)).toMatchObject({ value: 1, rowIndex: 4 });
    expect(await selectRank(() => chunks, 4)).toMatchObject({ value: 5, rowIndex: 30 });
  });

  it('bins many distinct values in several passes with a small candidate budget', () => {
    const rng = new Rng(3);
    const values = Float64Array.from({ length: 50_000 }, () => rng.normal() ** 3);
    const sel = new RankSelector(31_415, { bins: 16, maxCandidates: 32 });
    while (!sel.done) {
      values.forEach((v, i) => sel.add(v, i));
      sel.endPass();
    }
    expect(sel.result()).toEqual(sortedKeys(values)[31_415]);
    expect(sel.passes).toBeGreaterThan(3);
  });

  it('rejects k outside the stream', async () => {
    await expect(selectRank(() => [{ values: [1, 2] }], 2)).rejects.toThrow('Expected `k` to be below the number of values (2), got `2`');
  });
});

import { describe, expect, it } from 'vitest';
import { balancedClassRows, oversampleClasses } from '../../src/stages/class-balance.js';
import { Rng } from '../../src/rng.js';

async function* rowsOf(labels: number[]): AsyncGenerator<{ id: number; label: number }> {
  for (const [id, label] of labels.entries()) yield { id, label };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('balancedClassRows', () => {
  it('raises every class below the median to it and leaves empty classes empty', () => {
    expect(balancedClassRows([100, 900, 1000])).toEqual([900, 900, 1000]);
    // even count of non-empty classes: the mean of the two middle sizes, rounded
    expect(balancedClassRows([3, 0, 10, 11, 40])).toEqual([11, 0, 11, 11, 40]);
    expect(balancedClassRows([0, 0])).toEqual([0, 0]);
  });
});

describe('oversampleClasses', () => {
  // class 0: 7 rows, class 1: 20, class 2: 23; targets 20 / 20 / 23 -> class 0 rows twice, 6 of them three times
  const labels = Array.from({ length: 50 }, (_, i) => (i < 7 ? 0 : i < 27 ? 1 : 2)).reverse();
  const counts = [7, 20, 23];

  it('gives each class exactly its target, every row at least floor(target / n) times, copies in a row', async () => {
    const out = await collect(oversampleClasses(rowsOf(labels), counts, balancedClassRows(counts), new Rng(5)));
    expect(out.length).toBe(20 + 20 + 23);
    const perId = new Map<number, number>();
    for (const r of out) perId.set(r.id, (perId.get(r.id) ?? 0) + 1);
    const copies0 = [...perId].filter(([id]) => labels[id] === 0).map(([, k]) => k);
    expect(copies0.length).toBe(7);
    expect(copies0.filter((k) => k === 2).length).toBe(1);
    expect(copies0.filter((k) => k === 3).length).toBe(6);
    expect([...perId].filter(([id]) => labels[id] !== 0).every(([, k]) => k === 1)).toBe(true);
    // the stream order is kept, each row's copies next to each other
    const firstSeen = [...new Set(out.map((r) => r.id))];
    expect(firstSeen).toEqual(labels.map((_, i) => i));
    // the same object, not copies of it
    const r0 = out.filter((r) => r.id === 0);
    expect(r0.every((r) => r === r0[0])).toBe(true);
  });

  it('is the same for the same seed, and another seed picks other rows for the extra copies', async () => {
    const ids = async (seed: number) => (await collect(oversampleClasses(rowsOf(labels), counts, balancedClassRows(counts), new Rng(seed)))).map((r) => r.id);
    expect(await ids(1)).toEqual(await ids(1));
    const picks = new Set<string>();
    for (let seed = 0; seed < 8; seed++) picks.add((await ids(seed)).join());
    expect(picks.size).toBeGreaterThan(1);
  });

  it('refuses a class with more rows than counted', async () => {
    await expect(collect(oversampleClasses(rowsOf([0, 0, 1]), [1, 1], [1, 1], new Rng(0)))).rejects.toThrow(/class 0 has more rows than the 1 counted/);
  });
});

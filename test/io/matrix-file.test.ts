import { describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MatrixWriter, matrixRows, readMatrix } from '../../src/io/matrix-file.js';
import { shuffledEpoch } from '../../src/stages/shuffle.js';
import { Rng } from '../../src/rng.js';

async function writeRange(path: string, rows: number, cols: number): Promise<void> {
  const w = await MatrixWriter.open(path, cols, { flushRows: 7 });
  for (let r = 0; r < rows; r += 5) {
    const n = Math.min(5, rows - r);
    const v = new Float32Array(n * cols);
    for (let i = 0; i < v.length; i++) v[i] = r * cols + i;
    await w.append(v);
  }
  await w.close();
}

describe('matrix file', () => {
  it('appends rows and reads them back in chunks', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'gssd-mx-')), 'm.f32');
    await writeRange(path, 23, 3);
    expect(await matrixRows(path, 3)).toBe(23);
    const seen: number[] = [];
    for await (const c of readMatrix(path, 3, { chunkRows: 4 })) {
      expect(c.rows.length).toBe(c.n * 3);
      seen.push(...c.rows);
    }
    expect(seen).toEqual(Array.from({ length: 69 }, (_, i) => i));
  });

  it('truncates to the kept rows on resume and appends after them', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'gssd-mx-')), 'm.f32');
    await writeRange(path, 10, 2);
    const w = await MatrixWriter.open(path, 2, { keepRows: 4 });
    await w.append(new Float32Array([-1, -2]));
    await w.close();
    const all: number[] = [];
    for await (const c of readMatrix(path, 2)) all.push(...c.rows);
    expect(all).toEqual([0, 1, 2, 3, 4, 5, 6, 7, -1, -2]);
  });

  it('refuses to resume past the rows on disk', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'gssd-mx-')), 'm.f32');
    await writeRange(path, 3, 2);
    await expect(MatrixWriter.open(path, 2, { keepRows: 5 })).rejects.toThrow(/has 3 rows, the checkpoint needs 5/);
  });
});

describe('shuffledEpoch', () => {
  it('visits every row once, in a seeded order, with rows matching their index', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'gssd-mx-')), 'm.f32');
    await writeRange(path, 1000, 2);
    const order = async (seed: number) => {
      const idx: number[] = [];
      for await (const c of shuffledEpoch(path, 2, 1000, new Rng(seed), { blockRows: 16, windowBlocks: 4 })) {
        for (let k = 0; k < c.n; k++) {
          expect(c.rows[k * 2]).toBe(c.index[k] * 2);
          idx.push(c.index[k]);
        }
      }
      return idx;
    };
    const a = await order(1);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(await order(1)).toEqual(a);
    expect(await order(2)).not.toEqual(a);
    expect(a.slice(0, 50)).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});

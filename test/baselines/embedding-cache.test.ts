import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MatrixWriter } from '../../src/io/matrix-file.js';
import { embeddingCacheReader } from '../../src/baselines/embedding-cache.js';
import { fitSpectral } from '../../src/baselines/spectral-signatures.js';
import { reader, shiftedGaussians } from './helpers.js';

describe('embeddingCacheReader', () => {
  it('streams the pipeline cache (h, label; -1 rejected) with the cache row indices', async () => {
    const data = shiftedGaussians(2);
    const labels = data.labels.map((y, i) => (i % 50 === 7 ? -1 : y)); // some rejected rows
    const dir = await mkdtemp(join(tmpdir(), 'gssd-baselines-'));
    try {
      const path = join(dir, 'embeddings.f32');
      const w = await MatrixWriter.open(path, data.D + 1);
      const rows = new Float32Array(data.n * (data.D + 1));
      for (let i = 0; i < data.n; i++) {
        rows.set(data.h.subarray(i * data.D, (i + 1) * data.D), i * (data.D + 1));
        rows[i * (data.D + 1) + data.D] = labels[i];
      }
      await w.append(rows);
      await w.close();
      const fromCache = embeddingCacheReader(path, data.D, { chunkRows: 300 });
      let n = 0;
      for await (const chunk of fromCache()) {
        expect(Array.from(chunk.labels)).toEqual(Array.from(labels.subarray(n, n + chunk.n)));
        expect(chunk.h).toEqual(data.h.slice(n * data.D, (n + chunk.n) * data.D));
        n += chunk.n;
      }
      expect(n).toBe(data.n);
      const a = await fitSpectral(fromCache, data.K, data.D);
      const b = await fitSpectral(reader({ ...data, labels }, 64), data.K, data.D);
      expect(a).toEqual(b);
      expect(a.classes.reduce((s, c) => s + c.n, 0)).toBe(labels.filter((y) => y >= 0).length);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

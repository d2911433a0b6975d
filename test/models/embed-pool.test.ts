import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/models/backend.js';
import { EmbedPool } from '../../src/models/embed-pool.js';
import { ResNet } from '../../src/models/resnet.js';
import { structuredImages } from './fixture.js';

describe('EmbedPool', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('gives the same features as embedSync, on worker threads', async () => {
    const net = new ResNet({ width: 4, imageSize: 16, seed: 3 });
    const px = structuredImages(11, 16);
    const pool = await EmbedPool.create(net, { workers: 2, batch: 4 });
    expect(pool.size).toBe(2);
    const [a, b] = await Promise.all([pool.embed(px, 11), pool.embed(px.subarray(0, 5 * 16 * 16 * 3), 5)]);
    await pool.close();
    const want = net.embedSync(px, 11);
    expect(a).toEqual(want);
    expect(b).toEqual(want.subarray(0, 5 * net.featureDim));
    await expect(pool.embed(px, 1)).rejects.toThrow(/closed/);
    net.dispose();
  });
});

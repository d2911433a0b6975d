import { describe, expect, it } from 'vitest';
import { collectGarbage } from '../../src/models/collect-garbage.js';

describe('collectGarbage', () => {
  it('frees an unreachable typed array at once', async () => {
    let big: Float32Array | null = new Float32Array(8 << 20); // 32 MB
    const ref = new WeakRef(big);
    big[0] = 1;
    big = null;
    // a WeakRef target stays alive until the current job ends
    await new Promise((resolve) => setImmediate(resolve));
    collectGarbage();
    expect(ref.deref()).toBeUndefined();
  });
});

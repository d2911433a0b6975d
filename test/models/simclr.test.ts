import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/models/backend.js';
import { ResNet } from '../../src/models/resnet.js';
import { SimclrTrainer, ntXent } from '../../src/models/simclr.js';
import { augment } from '../../src/stages/augment.js';
import { Rng } from '../../src/rng.js';
import { structuredImages } from './fixture.js';

describe('SimCLR', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('NT-Xent equals a direct computation', () => {
    const rng = new Rng(1);
    const n = 3;
    const a = Array.from({ length: 2 * n }, () => [rng.normal(), rng.normal(), rng.normal()]);
    const unit = a.map((v) => v.map((x) => x / Math.hypot(...v)));
    let want = 0;
    for (let i = 0; i < 2 * n; i++) {
      const pos = i < n ? i + n : i - n;
      let denom = 0;
      for (let j = 0; j < 2 * n; j++) if (j !== i) denom += Math.exp(unit[i].reduce((s, x, k) => s + x * unit[j][k], 0) / 0.5);
      want += -unit[i].reduce((s, x, k) => s + x * unit[pos][k], 0) / 0.5 + Math.log(denom);
    }
    want /= 2 * n;
    const got = tf.tidy(() => ntXent(tf.tensor2d(a.slice(0, n)), tf.tensor2d(a.slice(n)), 0.5).dataSync()[0]);
    expect(got).toBeCloseTo(want, 4);
  });

  it('lowers the loss over a few steps on a small fixture, without leaking tensors', () => {
    const n = 32;
    const px = structuredImages(n, 16);
    const net = new ResNet({ width: 4, imageSize: 16, seed: 1 });
    const trainer = new SimclrTrainer(net, { seed: 2, lr: 3e-3 });
    expect(trainer.headVariables()[0].shape).toEqual([32, 32]);
    expect(trainer.headVariables()[1].shape).toEqual([32, 128]);
    const rng = new Rng(3);
    const v1 = augment(px, n, 16, rng);
    const v2 = augment(px, n, 16, rng);
    const losses = [trainer.step(v1, v2)];
    const before = tf.memory().numTensors;
    for (let i = 0; i < 14; i++) losses.push(trainer.step(v1, v2));
    expect(tf.memory().numTensors).toBe(before);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect((losses[13] + losses[14]) / 2).toBeLessThan((losses[0] + losses[1]) / 2 - 0.05);
    v1.dispose();
    v2.dispose();
    trainer.dispose();
    net.dispose();
  });
});

describe('SimCLR memory guard', () => {
  it('refuses, on wasm, a batch that cannot fit the heap', async () => {
    await initBackend('wasm');
    const net = new ResNet({ width: 64, imageSize: 32, seed: 1 });
    const trainer = new SimclrTrainer(net);
    const v = tf.zeros([256, 32, 32, 3]) as tf.Tensor4D;
    expect(() => trainer.step(v, v)).toThrow(/batch of at most \d+/);
    v.dispose();
    trainer.dispose();
    net.dispose();
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/models/backend.js';
import { ResNet, BN_MOMENTUM } from '../../src/models/resnet.js';
import { normalize } from '../../src/stages/augment.js';
import { structuredImages } from './fixture.js';

describe('ResNet', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('maps CIFAR-size images to 8 x width features', () => {
    const net = new ResNet({ width: 4, imageSize: 16, seed: 1 });
    expect(net.stem).toBe('cifar');
    expect(net.featureDim).toBe(32);
    const h = tf.tidy(() => net.apply(normalize(structuredImages(3, 16), 3, 16), false));
    expect(h.shape).toEqual([3, 32]);
    h.dispose();
    // 1 stem conv + 16 block convs + 3 shortcut convs, 20 BatchNorms of 2 trainable each
    expect(net.trainableVariables().length).toBe(20 + 40);
    net.dispose();
  });

  it('has an ImageNet stem for larger images', () => {
    const net = new ResNet({ width: 2, imageSize: 64, seed: 1 });
    expect(net.stem).toBe('imagenet');
    const h = tf.tidy(() => net.apply(normalize(structuredImages(2, 64), 2, 64), false));
    expect(h.shape).toEqual([2, 16]);
    h.dispose();
    net.dispose();
  });

  it('is seeded', () => {
    const a = new ResNet({ width: 4, imageSize: 16, seed: 7 });
    const b = new ResNet({ width: 4, imageSize: 16, seed: 7 });
    const px = structuredImages(4, 16);
    expect(a.embedSync(px, 4)).toEqual(b.embedSync(px, 4));
    a.dispose();
    b.dispose();
  });

  it('updates BatchNorm running statistics in training mode only, with momentum 0.1', () => {
    const net = new ResNet({ width: 4, imageSize: 16, seed: 2 });
    const x = normalize(structuredImages(8, 16), 8, 16);
    const mean = net.variables().get('stem.bn.running_mean')!;
    tf.tidy(() => net.apply(x, false));
    expect(Array.from(mean.dataSync())).toEqual([0, 0, 0, 0]);
    const batchMean = tf.tidy(() =>
      tf.mean(tf.conv2d(x, net.variables().get('stem.conv') as tf.Tensor4D, 1, [[0, 0], [1, 1], [1, 1], [0, 0]]), [0, 1, 2]).dataSync(),
    );
    tf.tidy(() => net.apply(x, true));
    const got = mean.dataSync();
    for (let c = 0; c < 4; c++) expect(got[c]).toBeCloseTo(BN_MOMENTUM * batchMean[c], 5);
    x.dispose();
    net.dispose();
  });

  it('embeds pixels in batches like apply on normalised input, without leaking tensors', () => {
    const net = new ResNet({ width: 4, imageSize: 16, seed: 3 });
    const px = structuredImages(5, 16);
    const whole = tf.tidy(() => net.apply(normalize(px, 5, 16), false).dataSync());
    const before = tf.memory().numTensors;
    const batched = net.embedSync(px, 5, 16, 2);
    expect(tf.memory().numTensors).toBe(before);
    for (let i = 0; i < whole.length; i++) expect(batched[i]).toBeCloseTo(whole[i], 4);
    net.dispose();
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/models/backend.js';
import { augment, augmentToArray, normalize, CIFAR_MEAN, CIFAR_STD } from '../../src/stages/augment.js';
import { Rng } from '../../src/rng.js';
import { structuredImages } from '../models/fixture.js';

describe('augment', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('normalises with the CIFAR statistics', () => {
    const px = new Uint8Array([0, 128, 255]);
    const x = normalize(px, 1, 1);
    expect(x.shape).toEqual([1, 1, 1, 3]);
    const v = x.dataSync();
    for (let c = 0; c < 3; c++) expect(v[c]).toBeCloseTo((px[c] / 255 - CIFAR_MEAN[c]) / CIFAR_STD[c], 5);
    x.dispose();
  });

  it('is seeded: same Rng state, same views; a second draw differs', () => {
    const px = structuredImages(4, 16);
    const a = augmentToArray(px, 4, 16, new Rng(3));
    const b = augmentToArray(px, 4, 16, new Rng(3));
    expect(a).toEqual(b);
    const rng = new Rng(3);
    augmentToArray(px, 4, 16, rng);
    expect(augmentToArray(px, 4, 16, rng)).not.toEqual(a);
  });

  it('is the identity (or its mirror) with a full crop and no colour changes', () => {
    const px = structuredImages(6, 8);
    const opts = { scale: [1, 1] as [number, number], ratio: [1, 1] as [number, number], jitterP: 0, grayP: 0 };
    const got = augmentToArray(px, 6, 8, new Rng(1), opts);
    const plain = normalize(px, 6, 8);
    const flipped = tf.reverse(plain, 2);
    const p = plain.dataSync();
    const f = flipped.dataSync();
    let mirrored = 0;
    for (let k = 0; k < 6; k++) {
      const slice = (a: ArrayLike<number>) => Array.from(a).slice(k * 192, (k + 1) * 192);
      const g = slice(got);
      const same = g.every((v, i) => Math.abs(v - slice(p)[i]) < 1e-5);
      const mirror = g.every((v, i) => Math.abs(v - slice(f)[i]) < 1e-5);
      expect(same || mirror).toBe(true);
      if (mirror && !same) mirrored++;
    }
    expect(mirrored).toBeGreaterThan(0);
    plain.dispose();
    flipped.dispose();
  });

  it('makes grayscale views with equal channels', () => {
    const px = structuredImages(2, 8);
    const got = augmentToArray(px, 2, 8, new Rng(1), { jitterP: 0, grayP: 1 });
    for (let i = 0; i < got.length; i += 3) {
      const raw = [0, 1, 2].map((c) => got[i + c] * CIFAR_STD[c] + CIFAR_MEAN[c]);
      expect(raw[1]).toBeCloseTo(raw[0], 5);
      expect(raw[2]).toBeCloseTo(raw[0], 5);
    }
  });

  it('returns a normalised tensor of the output size, values within the normalised pixel range', () => {
    const px = structuredImages(3, 16);
    const x = augment(px, 3, 16, new Rng(2), { outSize: 12 });
    expect(x.shape).toEqual([3, 12, 12, 3]);
    const v = x.dataSync();
    for (let i = 0; i < v.length; i++) {
      const c = i % 3;
      expect(v[i]).toBeGreaterThanOrEqual(-CIFAR_MEAN[c] / CIFAR_STD[c] - 1e-4);
      expect(v[i]).toBeLessThanOrEqual((1 - CIFAR_MEAN[c]) / CIFAR_STD[c] + 1e-4);
    }
    x.dispose();
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/models/backend.js';
import { batchNormTrain } from '../../src/models/batch-norm.js';
import { Rng } from '../../src/rng.js';

describe('batchNormTrain', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  for (const relu of [false, true]) {
    it(`matches autodiff of the textbook formula (relu ${relu})`, () => {
      const rng = new Rng(relu ? 1 : 2);
      const x = tf.tensor4d(Float32Array.from({ length: 4 * 3 * 3 * 5 }, () => rng.normal() * 2 + 1), [4, 3, 3, 5]);
      const gamma = tf.tensor1d(Float32Array.from({ length: 5 }, () => rng.normal()));
      const beta = tf.tensor1d(Float32Array.from({ length: 5 }, () => rng.normal()));
      const w = tf.tensor4d(Float32Array.from({ length: x.size }, () => rng.normal()), x.shape);
      const ours = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const r = batchNormTrain(a as tf.Tensor4D, g, b, relu);
        r.mean.dispose();
        r.variance.dispose();
        return tf.sum(tf.mul(r.y, w));
      };
      const textbook = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const { mean, variance } = tf.moments(a, [0, 1, 2]);
        let y = tf.add(tf.mul(tf.div(tf.sub(a, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b);
        if (relu) y = tf.relu(y);
        return tf.sum(tf.mul(y, w));
      };
      const before = tf.memory().numTensors;
      const [v1, g1] = tf.tidy(() => {
        const { value, grads } = tf.valueAndGrads(ours)([x, gamma, beta]);
        return [value.dataSync()[0], grads.map((t) => t.dataSync())] as const;
      });
      expect(tf.memory().numTensors).toBe(before);
      const [v2, g2] = tf.tidy(() => {
        const { value, grads } = tf.valueAndGrads(textbook)([x, gamma, beta]);
        return [value.dataSync()[0], grads.map((t) => t.dataSync())] as const;
      });
      expect(v1).toBeCloseTo(v2, 4);
      for (let k = 0; k < 3; k++) for (let i = 0; i < g1[k].length; i++) expect(g1[k][i]).toBeCloseTo(g2[k][i], 4);
      tf.dispose([x, gamma, beta, w]);
    });
  }
});

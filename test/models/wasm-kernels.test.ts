import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/models/backend.js';
import { Rng } from '../../src/rng.js';

function randn(rng: Rng, shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => rng.normal()), shape);
}

/** Gradients of sum(f(a, b) * w) on a backend, as arrays. */
async function grads(
  backend: 'cpu' | 'wasm',
  f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor,
  a: Float32Array,
  aShape: number[],
  b: Float32Array,
  bShape: number[],
): Promise<Float32Array[]> {
  await initBackend(backend);
  return tf.tidy(() => {
    const ta = tf.tensor(a, aShape);
    const tb = tf.tensor(b, bShape);
    const y = f(ta, tb);
    const w = tf.tensor(Float32Array.from({ length: y.size }, (_, i) => Math.sin(i * 0.37)), y.shape);
    const g = tf.grads((x: tf.Tensor, z: tf.Tensor) => tf.sum(tf.mul(f(x, z), w)))([ta, tb]);
    return [y.dataSync() as Float32Array, g[0].dataSync() as Float32Array, g[1].dataSync() as Float32Array];
  });
}

function close(a: Float32Array, b: Float32Array, tol: number): void {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  expect(worst).toBeLessThan(tol);
}

describe('wasm training kernels', () => {
  const rng = new Rng(5);
  const cases: [string, number, number, number, 'same' | 'valid' | 'torch'][] = [
    ['3x3 stride 1 same', 3, 1, 8, 'same'],
    ['3x3 stride 2 same', 3, 2, 8, 'same'],
    ['3x3 stride 2 pad 1 (ResNet)', 3, 2, 8, 'torch'],
    ['3x3 stride 1 pad 1 (ResNet)', 3, 1, 7, 'torch'],
    ['1x1 stride 2 valid (shortcut)', 1, 2, 8, 'valid'],
    ['7x7 stride 2 pad 3 (ImageNet stem)', 7, 2, 12, 'torch'],
    ['3x3 stride 2 pad 1, odd size (zero insertion)', 3, 2, 7, 'torch'],
    ['1x1 stride 2, odd size (zero insertion)', 1, 2, 7, 'valid'],
    ['3x3 stride 3 pad 1 (phases)', 3, 3, 9, 'torch'],
  ];
  for (const [name, k, s, size, padding] of cases) {
    it(`conv ${name}: wasm gradients equal cpu`, async () => {
      const xa = Float32Array.from({ length: 3 * size * size * 5 }, () => rng.normal());
      const fa = Float32Array.from({ length: k * k * 5 * 6 }, () => rng.normal());
      const p = (k - 1) / 2;
      const pad = padding === 'torch' ? ([[0, 0], [p, p], [p, p], [0, 0]] as tf.backend_util.ExplicitPadding) : padding;
      const conv = (a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, pad);
      const want = await grads('cpu', conv, xa, [3, size, size, 5], fa, [k, k, 5, 6]);
      const got = await grads('wasm', conv, xa, [3, size, size, 5], fa, [k, k, 5, 6]);
      for (let i = 0; i < 3; i++) close(got[i], want[i], 1e-4);
    });
  }

  for (const [ta, tb] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ]) {
    it(`matMul transposeA=${ta} transposeB=${tb}: wasm gradients equal cpu`, async () => {
      const a = Float32Array.from({ length: 12 * 7 }, () => rng.normal());
      const b = Float32Array.from({ length: 7 * 9 }, () => rng.normal());
      const aShape = ta ? [7, 12] : [12, 7];
      const bShape = tb ? [9, 7] : [7, 9];
      const mm = (x: tf.Tensor, y: tf.Tensor) => tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D, ta, tb);
      const want = await grads('cpu', mm, a, aShape, b, bShape);
      const got = await grads('wasm', mm, a, aShape, b, bShape);
      for (let i = 0; i < 3; i++) close(got[i], want[i], 1e-4);
    });
  }

  it('does not leak tensors', async () => {
    await initBackend('wasm');
    const x = randn(rng, [2, 8, 8, 4]);
    const f = randn(rng, [3, 3, 4, 4]);
    const run = () => tf.tidy(() => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same')))([x, f]));
    run().forEach((t) => t.dispose());
    const before = tf.memory().numTensors;
    const bytes = tf.memory().numBytes;
    for (let i = 0; i < 3; i++) run().forEach((t) => t.dispose());
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.memory().numBytes).toBe(bytes);
    x.dispose();
    f.dispose();
  });
});

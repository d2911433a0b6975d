import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/models/backend.js';
import { Classifier, loadClassifier, saveClassifier } from '../../src/models/classifier.js';
import { OnnxClassifier, type ClassifierConfig } from '../../src/models/onnx-classifier.js';
import { readModel, writeModel } from '../../src/models/save.js';
import { cropFlipToArray } from '../../src/stages/crop-flip.js';
import { Rng } from '../../src/rng.js';
import { structuredImages } from './fixture.js';

const SIZE = 16;
const N = 12;
const config: ClassifierConfig = { numClasses: 3, width: 4, imageSize: SIZE, stem: 'cifar', seed: 4, momentum: 0.9, weightDecay: 5e-4, decay: 'all' };

function maxRelative(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  let scale = 1e-12;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / scale);
  return worst;
}

describe('the classifier on onnxruntime', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('takes the SGD steps of the TensorFlow.js classifier (loss, accuracy, weights, momentum, statistics) and saves the same model', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gssd-onnx-clf-'));
    try {
      const ref = new Classifier(config);
      const onnx = await OnnxClassifier.create(config, null, { device: 'cpu', threads: 1 });
      const px = structuredImages(N, SIZE, 9);
      const labels = Array.from({ length: N }, (_, i) => i % 3);
      for (let step = 0; step < 3; step++) {
        const x = cropFlipToArray(px, N, SIZE, new Rng(`crop:${step}`));
        const t = tf.tensor4d(x, [N, SIZE, SIZE, 3]);
        const want = ref.step(t, labels, 0.05);
        t.dispose();
        const got = await onnx.step(x, labels, 0.05);
        expect(got.loss).toBeCloseTo(want.loss, 4);
        expect(got.correct).toBe(want.correct);
      }
      await writeModel(join(dir, 'onnx'), 'classifier', onnx.config, null, onnx.arrays(), null);
      await saveClassifier(ref, join(dir, 'tf'));
      const a = await readModel(join(dir, 'onnx'), 'classifier');
      const b = await readModel(join(dir, 'tf'), 'classifier');
      expect([...a.arrays.keys()].sort()).toEqual([...b.arrays.keys()].sort());
      for (const [name, values] of b.arrays) expect(maxRelative(a.arrays.get(name)!, values), name).toBeLessThan(1e-3);
      // the onnx-trained model predicts on TensorFlow.js, and continues on onnxruntime from its save
      const loaded = await loadClassifier(join(dir, 'onnx'));
      expect(loaded.predict(px, N)).toEqual(ref.predict(px, N));
      const resumed = await OnnxClassifier.create(config, a.arrays, { device: 'cpu', threads: 1 });
      const x = cropFlipToArray(px, N, SIZE, new Rng('crop:3'));
      const t = tf.tensor4d(x, [N, SIZE, SIZE, 3]);
      expect((await resumed.step(x, labels, 0.05)).loss).toBeCloseTo(ref.step(t, labels, 0.05).loss, 4);
      t.dispose();
      loaded.dispose();
      ref.dispose();
      await Promise.all([onnx.close(), resumed.close()]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a label outside the classes', async () => {
    const onnx = await OnnxClassifier.create(config, null, { device: 'cpu', threads: 1 });
    await expect(onnx.step(new Float32Array(2 * SIZE * SIZE * 3), [0, 3], 0.1)).rejects.toThrow(/label 3 is outside \[0, 3\)/);
    await onnx.close();
  });
});

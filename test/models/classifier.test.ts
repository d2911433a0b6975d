import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/models/backend.js';
import { Classifier, crossEntropy, loadClassifier, saveClassifier, stepLr } from '../../src/models/classifier.js';
import { readManifest } from '../../src/models/save.js';
import { cropFlip } from '../../src/stages/crop-flip.js';
import { normalize } from '../../src/stages/augment.js';
import { syntheticImage } from '../../src/data/synthetic.js';
import { Rng } from '../../src/rng.js';

const SIZE = 16;

/** n procedural images (horizontal stripes, vertical stripes, checkerboard: labels 0, 1, 2, round robin). */
function fixture(n: number, seed: number): { pixels: Uint8Array; labels: number[] } {
  const kinds = [2, 3, 7];
  const rng = new Rng(seed);
  const per = SIZE * SIZE * 3;
  const pixels = new Uint8Array(n * per);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    labels.push(i % kinds.length);
    pixels.set(syntheticImage(kinds[i % kinds.length], rng, SIZE), i * per);
  }
  return { pixels, labels };
}

describe('Classifier', () => {
  let dir: string;
  beforeAll(async () => {
    await initBackend('wasm');
    dir = await mkdtemp(join(tmpdir(), 'gssd-classifier-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('steps the learning rate x0.1 at 50% and 75% of the epochs', () => {
    expect([0, 99, 100, 149, 150, 199].map((e) => stepLr(e, 200, 0.1))).toEqual([0.1, 0.1, 0.01, 0.01, 0.001, 0.001]);
    expect(stepLr(0, 1, 0.1)).toBe(0.1);
  });

  it('cross-entropy equals a direct computation', () => {
    const logits = [[1, 2, 0.5], [-1, 0, 3]];
    const labels = [1, 2];
    const want = logits.reduce((s, row, i) => s + Math.log(row.reduce((a, v) => a + Math.exp(v), 0)) - row[labels[i]], 0) / 2;
    const got = tf.tidy(() => crossEntropy(tf.tensor2d(logits), tf.tensor1d(labels, 'int32'), 3).dataSync()[0]);
    expect(got).toBeCloseTo(want, 5);
  });

  it.each(['all', 'weights'] as const)('takes SGD steps with momentum 0.9 and weight decay on %s', (decay) => {
    const clf = new Classifier({ numClasses: 3, width: 2, imageSize: 8, seed: 3, weightDecay: 0.01, decay });
    const rng = new Rng(1);
    const x = tf.tensor4d(Float32Array.from({ length: 4 * 8 * 8 * 3 }, () => rng.normal()), [4, 8, 8, 3]);
    const labels = [0, 1, 2, 1];
    const vars = clf.stateVariables();
    const conv = vars.get('encoder/stem.conv')!;
    const gamma = vars.get('encoder/stem.bn.gamma')!;
    const before = [conv, gamma].map((v) => v.dataSync().slice());
    const { grads } = tf.variableGrads(() => crossEntropy(clf.logits(x, true), tf.tensor1d(labels, 'int32'), 3), [conv, gamma]);
    const g = [conv, gamma].map((v) => grads[v.name].dataSync().slice());
    tf.dispose(Object.values(grads));
    clf.step(x, labels, 0.5);
    const afterConv = conv.dataSync();
    const afterGamma = gamma.dataSync();
    for (let i = 0; i < 5; i++) expect(afterConv[i]).toBeCloseTo(before[0][i] - 0.5 * (g[0][i] + 0.01 * before[0][i]), 5);
    const gammaDecay = decay === 'all' ? 0.01 : 0;
    for (let i = 0; i < 2; i++) expect(afterGamma[i]).toBeCloseTo(before[1][i] - 0.5 * (g[1][i] + gammaDecay * before[1][i]), 5);
    // the momentum buffer holds the first (decayed) gradient
    expect(vars.get('momentum/encoder/stem.conv')!.dataSync()[0]).toBeCloseTo(g[0][0] + 0.01 * before[0][0], 5);
    x.dispose();
    clf.dispose();
  });

  it('learns a separable 3-class fixture to > 90% accuracy, saves and loads bit-identical', async () => {
    const k = 3;
    const n = 96;
    const { pixels, labels } = fixture(n, 7);
    const clf = new Classifier({ numClasses: k, width: 4, imageSize: SIZE, seed: 1 });
    const per = SIZE * SIZE * 3;
    const rng = new Rng(2);
    const epochs = 20;
    const batch = 16;
    const before = tf.memory().numTensors;
    let trainAccuracy = 0;
    for (let epoch = 0; epoch < epochs; epoch++) {
      let correct = 0;
      const order = rng.shuffle([...Array(n).keys()]);
      for (let s = 0; s < n; s += batch) {
        const idx = order.slice(s, s + batch);
        const px = new Uint8Array(idx.length * per);
        idx.forEach((i, j) => px.set(pixels.subarray(i * per, (i + 1) * per), j * per));
        const x = cropFlip(px, idx.length, SIZE, rng);
        const r = clf.step(x, idx.map((i) => labels[i]), stepLr(epoch, epochs, 0.05));
        expect(Number.isFinite(r.loss)).toBe(true);
        correct += r.correct;
        x.dispose();
      }
      trainAccuracy = correct / n;
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(trainAccuracy).toBeGreaterThan(0.9);
    const pred = clf.predict(pixels, n, 20);
    const acc = pred.reduce((s, p, i) => s + (p === labels[i] ? 1 : 0), 0) / n;
    expect(acc).toBeGreaterThan(0.9);

    await saveClassifier(clf, join(dir, 'model'), { note: 'x' });
    const loaded = await loadClassifier(join(dir, 'model'));
    expect((await readManifest(join(dir, 'model'))).extra).toEqual({ note: 'x' });
    for (const [name, v] of clf.stateVariables()) expect(loaded.stateVariables().get(name)!.dataSync(), name).toEqual(v.dataSync());
    expect(Array.from(loaded.predict(pixels, n))).toEqual(Array.from(pred));
    // training continues identically from the loaded state
    const x = tf.tidy(() => normalize(pixels.subarray(0, 8 * per), 8, SIZE));
    const a = clf.step(x, labels.slice(0, 8), 0.01);
    const b = loaded.step(x, labels.slice(0, 8), 0.01);
    expect(b).toEqual(a);
    for (const [name, v] of clf.stateVariables()) expect(loaded.stateVariables().get(name)!.dataSync(), name).toEqual(v.dataSync());
    x.dispose();
    clf.dispose();
    loaded.dispose();
  });
});

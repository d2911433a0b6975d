import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/models/backend.js';
import { ResNet } from '../../src/models/resnet.js';
import { SimclrTrainer, ntXent } from '../../src/models/simclr.js';
import { OnnxSimclr, SIMCLR_ADAM } from '../../src/models/onnx-simclr.js';
import { SplitSimclrStep } from '../../src/models/onnx-simclr-split.js';
import { hwioToOihw } from '../../src/models/onnx-resnet-graph.js';
import { resnetLayout } from '../../src/models/resnet-layout.js';
import { loadSimclr, loadSimclrArrays, saveSimclr, saveSimclrArrays, type SimclrConfig } from '../../src/models/save.js';
import { oneGraphStep, relativeError, twoViews } from './simclr-step-fixture.js';

const SIZE = 16;
const N = 8;
const config: SimclrConfig = { encoder: { width: 4, imageSize: SIZE, stem: 'cifar', seed: 1 }, simclr: { projDim: 16, temperature: 0.5, lr: 1e-3, seed: 2 } };

const views = (seed: number) => twoViews(N, SIZE, seed);

/** Loss and gradients from the one-graph step with its gradient outputs. */
async function oneGraphGradients(state: Map<string, Float32Array>, data: Float32Array): Promise<{ loss: number; grad: (name: string) => Float32Array }> {
  const out = await oneGraphStep(config, state, data, N);
  return { loss: out.loss[0], grad: (name) => out[`grad/${name}`] };
}

/** Loss and gradients from the low-memory step's graphs: the views' shares summed. */
async function splitGradients(state: Map<string, Float32Array>, data: Float32Array): Promise<{ loss: number; grad: (name: string) => Float32Array }> {
  const split = new SplitSimclrStep(resnetLayout(config.encoder), { projDim: 16, temperature: 0.5, adam: SIMCLR_ADAM }, { device: 'cpu', threads: 1, memory: 'low' });
  const { loss, shares, head } = await split.gradients(new Map(state), data, N);
  await split.close();
  const grad = (name: string) => head[`grad/${name}`] ?? shares[0][`grad/${name}`].map((v, i) => v + shares[1][`grad/${name}`][i]);
  return { loss, grad };
}

describe('SimCLR on onnxruntime', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it.each(['fast', 'low'] as const)('computes the loss and every gradient of the TensorFlow.js step on the same batch and weights (1e-4 relative), memory %s', async (memory) => {
    const trainer = new SimclrTrainer(new ResNet(config.encoder), config.simclr);
    const onnx = await OnnxSimclr.create(config, null, { device: 'cpu', threads: 1 });
    const data = views(3);
    const half = N * SIZE * SIZE * 3;
    // TensorFlow.js gradients of the same loss
    const v1 = tf.tensor4d(data.subarray(0, half), [N, SIZE, SIZE, 3]);
    const v2 = tf.tensor4d(data.subarray(half), [N, SIZE, SIZE, 3]);
    const vars = trainer.trainableVariables();
    const { value, grads } = tf.variableGrads(() => ntXent(trainer.project(trainer.encoder.apply(v1, true)), trainer.project(trainer.encoder.apply(v2, true)), 0.5), vars);
    // onnxruntime gradients: the step graph's gradient outputs, or the low-memory step's
    const state = (onnx as unknown as { state: Map<string, Float32Array> }).state;
    const { loss, grad } = memory === 'fast' ? await oneGraphGradients(state, data) : await splitGradients(state, data);
    expect(loss).toBeCloseTo(value.dataSync()[0], 4);
    const names = [...trainer.encoder.variables()].filter(([, v]) => v.trainable).map(([n]) => n).concat(['head/0', 'head/1']);
    let worst = 0;
    names.forEach((name, i) => {
      const tfGrad = grads[vars[i].name];
      const want = tfGrad.rank === 4 ? hwioToOihw(tfGrad.dataSync() as Float32Array, tfGrad.shape) : (tfGrad.dataSync() as Float32Array);
      worst = Math.max(worst, relativeError(grad(name), want));
    });
    expect(worst).toBeLessThan(1e-4);
    tf.dispose([v1, v2, value, ...Object.values(grads)]);
    trainer.dispose();
    trainer.encoder.dispose();
    await onnx.close();
  });

  it('follows TensorFlow.js over Adam steps, and its saves interoperate both ways', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gssd-onnx-simclr-'));
    try {
      const trainer = new SimclrTrainer(new ResNet(config.encoder), config.simclr);
      const onnx = await OnnxSimclr.create(config, null, { device: 'cpu', threads: 1 });
      const half = N * SIZE * SIZE * 3;
      const tfLoss: number[] = [];
      const ortLoss: number[] = [];
      for (let step = 0; step < 3; step++) {
        const data = views(10 + step);
        const v1 = tf.tensor4d(data.subarray(0, half), [N, SIZE, SIZE, 3]);
        const v2 = tf.tensor4d(data.subarray(half), [N, SIZE, SIZE, 3]);
        tfLoss.push(trainer.step(v1, v2));
        tf.dispose([v1, v2]);
        ortLoss.push(await onnx.step(data, N));
      }
      for (let i = 0; i < 3; i++) expect(ortLoss[i]).toBeCloseTo(tfLoss[i], 3);
      // onnx -> save -> TF.js: same weights, Adam state and running statistics
      await saveSimclrArrays(onnx.arrays(), join(dir, 'from-onnx'));
      await saveSimclr(trainer, join(dir, 'from-tf'));
      const fromOnnx = await loadSimclrArrays(join(dir, 'from-onnx'));
      const fromTf = await loadSimclrArrays(join(dir, 'from-tf'));
      expect(fromOnnx.adam!.iterations).toBe(3);
      for (const [name, values] of fromTf.encoder) expect(relativeError(fromOnnx.encoder.get(name)!, values)).toBeLessThan(2e-3);
      const loaded = await loadSimclr(join(dir, 'from-onnx'));
      expect(loaded.trainableVariables().length).toBe(trainer.trainableVariables().length);
      // TF.js -> onnx continues: its next step's loss is TF.js's next loss
      const resumed = await OnnxSimclr.create(config, fromTf, { device: 'cpu', threads: 1 });
      const data = views(20);
      const v1 = tf.tensor4d(data.subarray(0, half), [N, SIZE, SIZE, 3]);
      const v2 = tf.tensor4d(data.subarray(half), [N, SIZE, SIZE, 3]);
      expect(await resumed.step(data, N)).toBeCloseTo(trainer.step(v1, v2), 4);
      tf.dispose([v1, v2]);
      loaded.dispose();
      loaded.encoder.dispose();
      trainer.dispose();
      trainer.encoder.dispose();
      await Promise.all([onnx.close(), resumed.close()]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it.each(['fast', 'low'] as const)('is deterministic: the same state and batches give bit-identical weights, memory %s', async (memory) => {
    const run = async () => {
      const t = await OnnxSimclr.create(config, null, { device: 'cpu', threads: 2, memory });
      for (let s = 0; s < 2; s++) await t.step(views(30 + s), N);
      const a = t.arrays();
      await t.close();
      return a;
    };
    const [a, b] = [await run(), await run()];
    for (const [name, values] of a.encoder) expect(Buffer.from(values.buffer).equals(Buffer.from(b.encoder.get(name)!.buffer))).toBe(true);
  });

  it('takes the same steps in both memory modes: running statistics and weights after 2 steps agree', async () => {
    const run = async (memory: 'fast' | 'low') => {
      const t = await OnnxSimclr.create(config, null, { device: 'cpu', threads: 1, memory });
      const losses = [];
      for (let s = 0; s < 2; s++) losses.push(await t.step(views(40 + s), N));
      const a = t.arrays();
      await t.close();
      return { a, losses };
    };
    const [fast, low] = [await run('fast'), await run('low')];
    for (let s = 0; s < 2; s++) expect(low.losses[s]).toBeCloseTo(fast.losses[s], 5);
    for (const [name, values] of fast.a.encoder) expect(relativeError(low.a.encoder.get(name)!, values), name).toBeLessThan(1e-4);
    expect(low.a.adam!.iterations).toBe(2);
    fast.a.adam!.v.forEach((v, i) => expect(relativeError(low.a.adam!.v[i], v)).toBeLessThan(1e-3));
  });

  it('refuses CUDA with a clear error where its provider is not installed', async () => {
    const t = await OnnxSimclr.create(config, null, { device: 'cuda', threads: 1 });
    await expect(t.step(views(1), N)).rejects.toThrow(/CUDA/);
    await t.close();
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as Ort from 'onnxruntime-node';
import { loadOnnxRuntime } from '../../src/models/onnx-runtime.js';
import { initBackend } from '../../src/models/backend.js';
import { ResNet } from '../../src/models/resnet.js';
import { SimclrTrainer, ntXent } from '../../src/models/simclr.js';
import { OnnxSimclr, SIMCLR_ADAM } from '../../src/models/onnx-simclr.js';
import { simclrStepGraph } from '../../src/models/onnx-simclr-graph.js';
import { hwioToOihw } from '../../src/models/onnx-resnet-graph.js';
import { resnetLayout } from '../../src/models/resnet-layout.js';
import { loadSimclr, loadSimclrArrays, saveSimclr, saveSimclrArrays, type SimclrConfig } from '../../src/models/save.js';
import { augmentToArray } from '../../src/stages/augment.js';
import { Rng } from '../../src/rng.js';
import { structuredImages } from './fixture.js';

const ort = await loadOnnxRuntime('onnx-simclr test');

const SIZE = 16;
const N = 8;
const config: SimclrConfig = { encoder: { width: 4, imageSize: SIZE, stem: 'cifar', seed: 1 }, simclr: { projDim: 16, temperature: 0.5, lr: 1e-3, seed: 2 } };

function views(seed: number): Float32Array {
  const px = structuredImages(N, SIZE, seed);
  const rng = new Rng(seed);
  const out = new Float32Array(2 * N * SIZE * SIZE * 3);
  out.set(augmentToArray(px, N, SIZE, rng), 0);
  out.set(augmentToArray(px, N, SIZE, rng), N * SIZE * SIZE * 3);
  return out;
}

function relativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += b[i] ** 2;
  }
  return Math.sqrt(diff / Math.max(norm, 1e-30));
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
    // onnxruntime gradients from the step graph with its gradient outputs
    const layout = resnetLayout(config.encoder);
    const graph = simclrStepGraph(layout, N, { projDim: 16, temperature: 0.5, adam: SIMCLR_ADAM, gradients: true, memory });
    const session = await ort.InferenceSession.create(graph.bytes, { intraOpNumThreads: 1 });
    const state = (onnx as unknown as { state: Map<string, Float32Array> }).state;
    const feeds: Record<string, Ort.Tensor> = {
      views: new ort.Tensor('float32', data, [2 * N, SIZE, SIZE, 3]),
      lr_corrected: new ort.Tensor('float32', Float32Array.of(0), []),
      second_correction: new ort.Tensor('float32', Float32Array.of(1), []),
    };
    for (const s of graph.state) feeds[s.name] = new ort.Tensor('float32', state.get(s.name)!, s.shape);
    const out = await session.run(feeds);
    expect((out.loss.data as Float32Array)[0]).toBeCloseTo(value.dataSync()[0], 4);
    const names = [...trainer.encoder.variables()].filter(([, v]) => v.trainable).map(([n]) => n).concat(['head/0', 'head/1']);
    let worst = 0;
    names.forEach((name, i) => {
      const tfGrad = grads[vars[i].name];
      const want = tfGrad.rank === 4 ? hwioToOihw(tfGrad.dataSync() as Float32Array, tfGrad.shape) : (tfGrad.dataSync() as Float32Array);
      worst = Math.max(worst, relativeError(out[`grad/${name}`].data as Float32Array, want));
    });
    expect(worst).toBeLessThan(1e-4);
    await session.release();
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

  it('refuses CUDA with a clear error where its provider is not installed', async () => {
    const t = await OnnxSimclr.create(config, null, { device: 'cuda', threads: 1 });
    await expect(t.step(views(1), N)).rejects.toThrow(/CUDA/);
    await t.close();
  });
});

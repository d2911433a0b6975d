import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/models/backend.js';
import { exportResNetToOnnx } from '../../src/models/onnx-export.js';
import { OnnxEncoder } from '../../src/models/onnx-encoder.js';
import { encodeOnnxModel, ONNX_FLOAT, ONNX_UINT8, readOnnxMetadata } from '../../src/models/onnx-model.js';
import { ResNet } from '../../src/models/resnet.js';
import { Rng } from '../../src/rng.js';
import { CIFAR_MEAN, CIFAR_STD } from '../../src/stages/augment.js';
import { structuredImages } from './fixture.js';

/**
 * Agreement criterion: max |onnx - tfjs| <= 1e-4 * max(1, max |tfjs|), i.e. absolute 1e-4
 * for features of order 1 and relative to the largest feature otherwise.
 */
const TOL = 1e-4;

/** Random BatchNorm parameters and running statistics, so the folding is really tested. */
function randomizeBatchNorm(net: ResNet, seed: number): void {
  const rng = new Rng(seed);
  for (const [name, v] of net.variables()) {
    const n = v.size;
    let values: Float32Array | undefined;
    if (name.endsWith('.gamma')) values = Float32Array.from({ length: n }, () => rng.uniform(0.5, 1.5));
    else if (name.endsWith('.beta')) values = Float32Array.from({ length: n }, () => rng.uniform(-0.3, 0.3));
    else if (name.endsWith('.running_mean')) values = Float32Array.from({ length: n }, () => rng.uniform(-0.5, 0.5));
    else if (name.endsWith('.running_var')) values = Float32Array.from({ length: n }, () => rng.uniform(0.3, 3));
    if (values) tf.tidy(() => v.assign(tf.tensor(values, v.shape)));
  }
}

function maxAbs(a: Float32Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

function expectClose(onnx: Float32Array, ref: Float32Array): void {
  expect(onnx.length).toBe(ref.length);
  let diff = 0;
  for (let i = 0; i < ref.length; i++) diff = Math.max(diff, Math.abs(onnx[i] - ref[i]));
  expect(maxAbs(ref)).toBeGreaterThan(0);
  expect(diff).toBeLessThanOrEqual(TOL * Math.max(1, maxAbs(ref)));
}

describe('exportResNetToOnnx + OnnxEncoder', () => {
  let dir: string;
  beforeAll(async () => {
    await initBackend('wasm');
    dir = await mkdtemp(join(tmpdir(), 'gssd-onnx-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const width of [4, 8]) {
    it(`matches TF.js embeddings at width ${width}`, async () => {
      const net = new ResNet({ width, imageSize: 32, seed: width });
      randomizeBatchNorm(net, 100 + width);
      const n = 37; // more than one internal batch of 16, and a ragged last one
      const pixels = structuredImages(n, 32, 7);
      const ref = await net.embed(pixels, n);
      const bytes = exportResNetToOnnx(net);
      const file = join(dir, `w${width}.onnx`);
      await writeFile(file, bytes);
      const enc = await OnnxEncoder.load(file, { batchSize: 16, provider: 'cpu' });
      expect(enc.provider).toBe('cpu');
      expect(enc.featureDim).toBe(8 * width);
      expect(enc.imageSize).toBe(32);
      expect(enc.spec.inputLayout).toBe('nhwc255');
      expectClose(await enc.embed(pixels, n), ref);
      await enc.close();
      net.dispose();
    });
  }

  it('writes the gssd metadata', () => {
    const net = new ResNet({ width: 2, imageSize: 16, seed: 1 });
    const meta = readOnnxMetadata(exportResNetToOnnx(net));
    expect(meta).toEqual({
      gssd_image_size: '16',
      gssd_mean: JSON.stringify(CIFAR_MEAN),
      gssd_std: JSON.stringify(CIFAR_STD),
      gssd_input_layout: 'nhwc255',
    });
    net.dispose();
  });

  it('matches with the ImageNet stem (max-pool)', async () => {
    const net = new ResNet({ width: 4, imageSize: 64, seed: 3 });
    expect(net.stem).toBe('imagenet');
    randomizeBatchNorm(net, 9);
    const pixels = structuredImages(5, 64, 2);
    const ref = await net.embed(pixels, 5);
    const enc = await OnnxEncoder.load(exportResNetToOnnx(net), { provider: 'cpu' });
    expect(enc.imageSize).toBe(64);
    expectClose(await enc.embed(pixels, 5), ref);
    await enc.close();
    net.dispose();
  });

  it('runs a bring-your-own model: NCHW normalised input, no metadata, options given', async () => {
    const net = new ResNet({ width: 4, imageSize: 32, seed: 5 });
    randomizeBatchNorm(net, 11);
    const pixels = structuredImages(20, 32, 3);
    const ref = await net.embed(pixels, 20);
    // what a model exported from PyTorch looks like: float [N, 3, S, S], normalised outside
    const bytes = exportResNetToOnnx(net, { inputLayout: 'nchw', metadata: false });
    expect(readOnnxMetadata(bytes)).toEqual({});
    const file = join(dir, 'user.onnx');
    await writeFile(file, bytes);
    const explicit = await OnnxEncoder.load(file, { imageSize: 32, mean: CIFAR_MEAN, std: CIFAR_STD, inputLayout: 'nchw', intraOpThreads: 1 });
    expect(explicit.featureDim).toBe(32);
    expect(explicit.intraOpThreads).toBe(1);
    expectClose(await explicit.embed(pixels, 20), ref);
    await explicit.close();
    // nothing given: layout and size from the input shape, CIFAR normalisation by default
    const inferred = await OnnxEncoder.load(file);
    expect(inferred.spec).toEqual({ imageSize: 32, mean: [...CIFAR_MEAN], std: [...CIFAR_STD], inputLayout: 'nchw' });
    expect(['cpu', 'cuda']).toContain(inferred.provider);
    expectClose(await inferred.embed(pixels, 20), ref);
    await inferred.close();
    // a different normalisation changes the features: the options are really used
    const wrong = await OnnxEncoder.load(file, { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
    const h = await wrong.embed(pixels, 20);
    let diff = 0;
    for (let i = 0; i < h.length; i++) diff = Math.max(diff, Math.abs(h[i] - ref[i]));
    expect(diff).toBeGreaterThan(1e-2);
    await wrong.close();
    net.dispose();
  });

  it('runs a uint8 NCHW model with a symbolic feature dimension (found by a first run)', async () => {
    // h = per-channel mean of the raw pixel values: checks the HWC -> CHW transpose
    const bytes = encodeOnnxModel({
      graphName: 'channel_means',
      opset: 17,
      inputs: [{ name: 'x', elemType: ONNX_UINT8, shape: ['N', 3, 'H', 'W'] }],
      outputs: [{ name: 'y', elemType: ONNX_FLOAT, shape: ['N', 'D'] }],
      nodes: [
        { op: 'Cast', inputs: ['x'], outputs: ['xf'], attributes: { to: ONNX_FLOAT } },
        { op: 'GlobalAveragePool', inputs: ['xf'], outputs: ['p'] },
        { op: 'Flatten', inputs: ['p'], outputs: ['y'], attributes: { axis: 1 } },
      ],
      initializers: [],
      metadata: { gssd_input_layout: 'nchw255' },
    });
    const enc = await OnnxEncoder.load(bytes, { imageSize: 4, batchSize: 2 });
    expect(enc.featureDim).toBe(3);
    const n = 3;
    const pixels = new Uint8Array(n * 4 * 4 * 3);
    for (let k = 0; k < n; k++) for (let p = 0; p < 16; p++) pixels.set([10 * k + 1, 10 * k + 2 + (p % 2) * 2, 200], (k * 16 + p) * 3);
    expect([...(await enc.embed(pixels, n))]).toEqual([1, 3, 200, 11, 13, 200, 21, 23, 200]);
    await enc.close();
  });

  it('rejects bad options with the option name', async () => {
    const net = new ResNet({ width: 2, imageSize: 16, seed: 1 });
    const bytes = exportResNetToOnnx(net);
    await expect(OnnxEncoder.load(bytes, { batchSize: 0 })).rejects.toThrow('`batchSize`');
    await expect(OnnxEncoder.load(bytes, { std: [1, 0, 1] })).rejects.toThrow('`std`');
    await expect(OnnxEncoder.load(join(dir, 'missing.onnx'))).rejects.toThrow('missing.onnx');
    await expect(OnnxEncoder.load(bytes, { imageSize: 32 })).rejects.toThrow('16-px');
    expect(() => exportResNetToOnnx(net, { mean: [0, 0] })).toThrow('`mean`');
    net.dispose();
  });
});

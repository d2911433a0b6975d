import { loadOnnxRuntime } from '../../src/models/onnx-runtime.js';
import { SIMCLR_ADAM } from '../../src/models/onnx-simclr.js';
import { simclrStepGraph } from '../../src/models/onnx-simclr-graph.js';
import { resnetLayout } from '../../src/models/resnet-layout.js';
import type { SimclrConfig } from '../../src/models/save.js';
import { augmentToArray } from '../../src/stages/augment.js';
import { Rng } from '../../src/rng.js';
import { structuredImages } from './fixture.js';

/** Two augmented views of n structured images (view 1 then view 2, normalised NHWC floats). */
export function twoViews(n: number, size: number, seed: number): Float32Array {
  const px = structuredImages(n, size, seed);
  const rng = new Rng(seed);
  const out = new Float32Array(2 * n * size * size * 3);
  out.set(augmentToArray(px, n, size, rng), 0);
  out.set(augmentToArray(px, n, size, rng), n * size * size * 3);
  return out;
}

/** ||a - b|| / ||b||. */
export function relativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += b[i] ** 2;
  }
  return Math.sqrt(diff / Math.max(norm, 1e-30));
}

/**
 * One run of the one-graph SimCLR step with its gradient outputs on a trainer's `state`, at
 * learning rate 0: every output by name (`loss`, `grad/NAME`, `new/NAME`).
 */
export async function oneGraphStep(config: SimclrConfig, state: Map<string, Float32Array>, views: Float32Array, n: number): Promise<Record<string, Float32Array>> {
  const ort = await loadOnnxRuntime('SimCLR step test');
  const S = config.encoder.imageSize;
  const graph = simclrStepGraph(resnetLayout(config.encoder), n, { projDim: config.simclr.projDim, temperature: config.simclr.temperature, adam: SIMCLR_ADAM, gradients: true });
  const session = await ort.InferenceSession.create(graph.bytes, { intraOpNumThreads: 1 });
  const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {
    views: new ort.Tensor('float32', views, [2 * n, S, S, 3]),
    lr_corrected: new ort.Tensor('float32', Float32Array.of(0), []),
    second_correction: new ort.Tensor('float32', Float32Array.of(1), []),
  };
  for (const s of graph.state) feeds[s.name] = new ort.Tensor('float32', state.get(s.name)!, s.shape);
  const out = await session.run(feeds);
  await session.release();
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
}

import { describe, expect, it } from 'vitest';
import type * as Ort from 'onnxruntime-node';
import { loadOnnxRuntime } from '../../src/models/onnx-runtime.js';
import { OnnxGraph, sizeOf, type Value } from '../../src/models/onnx-graph.js';
import {
  Tape,
  add,
  addBias,
  batchNorm,
  conv2d,
  globalAvgPool,
  maxPool3x3s2,
  l2Normalize,
  matmul,
  relu,
  scale,
  softmaxCrossEntropy,
  weightedSum,
} from '../../src/models/onnx-autodiff.js';
import { checkpoint, type WeightFn } from '../../src/models/onnx-checkpoint.js';
import { Rng } from '../../src/rng.js';

const ort = await loadOnnxRuntime('onnx-autodiff test');

type Build = (t: Tape, xs: Value[]) => Value;

/**
 * Builds loss = sum(op(inputs) * probe) (or the op's own scalar) with its gradients, then
 * checks every gradient entry (or a sample of them) against central finite differences of
 * the same float32 graph.
 */
async function checkGradients(shapes: number[][], build: Build, opts: { tol?: number; eps?: number; scalar?: boolean; seed?: number; positive?: boolean[] } = {}): Promise<number> {
  const rng = new Rng(opts.seed ?? 1);
  const g = new OnnxGraph();
  const t = new Tape(g);
  const xs = shapes.map((s, i) => t.param(g.input(`x${i}`, s)));
  const y = build(t, xs);
  const probe = Float32Array.from({ length: sizeOf(y.shape) }, () => rng.normal());
  const loss = opts.scalar ? y : weightedSum(t, y, g.constant(probe, y.shape));
  const grads = t.backward(loss, xs);
  g.output('loss', loss);
  xs.forEach((x, i) => g.output(`g${i}`, grads.get(x.name)!));
  const session = await ort.InferenceSession.create(g.encode('check'), { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 });
  const values = shapes.map((s, i) => Float32Array.from({ length: sizeOf(s) }, () => (opts.positive?.[i] ? 0.5 + rng.uniform(0, 1) : rng.normal())));
  const run = async (vals: Float32Array[]) => {
    const feeds: Record<string, Ort.Tensor> = {};
    vals.forEach((v, i) => (feeds[`x${i}`] = new ort.Tensor('float32', v, shapes[i])));
    return session.run(feeds);
  };
  const base = await run(values);
  const eps = opts.eps ?? 1e-2;
  let worst = 0;
  for (let i = 0; i < shapes.length; i++) {
    const analytic = base[`g${i}`].data as Float32Array;
    const n = values[i].length;
    const idx = n <= 40 ? [...Array(n).keys()] : Array.from({ length: 40 }, () => Math.floor(rng.uniform(0, n)));
    const scaleOf = Math.max(1e-3, ...Array.from(analytic, Math.abs));
    for (const j of idx) {
      const plus = values.map((v) => v.slice());
      const minus = values.map((v) => v.slice());
      plus[i][j] += eps;
      minus[i][j] -= eps;
      const lp = ((await run(plus)).loss.data as Float32Array)[0];
      const lm = ((await run(minus)).loss.data as Float32Array)[0];
      const numeric = (lp - lm) / (2 * eps);
      worst = Math.max(worst, Math.abs(numeric - analytic[j]) / scaleOf);
    }
  }
  await session.release();
  expect(worst).toBeLessThan(opts.tol ?? 2e-3);
  return worst;
}

describe('ONNX autodiff: each op against finite differences (float32 graphs, relative to the largest gradient)', () => {
  it('conv2d 3x3 stride 1 and 2, 1x1 stride 2', async () => {
    await checkGradients([[2, 3, 6, 6], [4, 3, 3, 3]], (t, [x, w]) => conv2d(t, x, w, { stride: 1, pad: 1 }));
    await checkGradients([[2, 3, 6, 6], [4, 3, 3, 3]], (t, [x, w]) => conv2d(t, x, w, { stride: 2, pad: 1 }));
    await checkGradients([[2, 3, 7, 7], [4, 3, 3, 3]], (t, [x, w]) => conv2d(t, x, w, { stride: 2, pad: 1 }));
    await checkGradients([[2, 3, 6, 6], [5, 3, 1, 1]], (t, [x, w]) => conv2d(t, x, w, { stride: 2, pad: 0 }));
  });

  it('batchNorm over 1 and 2 groups', async () => {
    for (const groups of [1, 2]) {
      await checkGradients([[4, 3, 3, 3], [3], [3]], (t, [x, gamma, beta]) => batchNorm(t, x, gamma, beta, groups, 1e-5).y, { eps: 1e-2, tol: 5e-3 });
    }
  });

  it('relu, add, global average pool, max-pool', async () => {
    await checkGradients([[2, 3, 4, 4]], (t, [x]) => relu(t, x));
    await checkGradients([[2, 3], [2, 3]], (t, [a, b]) => add(t, a, b));
    await checkGradients([[2, 3, 4, 4]], (t, [x]) => globalAvgPool(t, x));
    await checkGradients([[2, 3, 7, 7]], (t, [x]) => maxPool3x3s2(t, x));
  });

  it('matmul, matmul with b transposed (also a x a^T), bias, scale', async () => {
    await checkGradients([[3, 4], [4, 5]], (t, [a, b]) => matmul(t, a, b));
    await checkGradients([[3, 4], [5, 4]], (t, [a, b]) => matmul(t, a, b, true));
    await checkGradients([[3, 4]], (t, [a]) => matmul(t, a, a, true));
    await checkGradients([[3, 4], [4]], (t, [x, b]) => addBias(t, x, b));
    await checkGradients([[3, 4]], (t, [x]) => scale(t, x, 2.5));
  });

  it('l2Normalize and softmax cross-entropy', async () => {
    await checkGradients([[3, 5]], (t, [x]) => l2Normalize(t, x));
    await checkGradients(
      [[4, 3]],
      (t, [logits]) => softmaxCrossEntropy(t, logits, t.g.constant([1, 0, 0, 0, 1, 0, 0, 0, 1, 0.5, 0.5, 0], [4, 3])),
      { scalar: true },
    );
  });

  it('a conv -> BN -> ReLU -> pool chain', async () => {
    await checkGradients(
      [[4, 2, 5, 5], [3, 2, 3, 3], [3], [3]],
      (t, [x, w, gamma, beta]) => globalAvgPool(t, relu(t, batchNorm(t, conv2d(t, x, w, { stride: 1, pad: 1 }), gamma, beta, 2, 1e-5).y)),
      { tol: 5e-3, eps: 1e-3 },
    );
  });

  it('two checkpointed residual blocks (recomputed in the backward pass)', async () => {
    await checkGradients(
      [[4, 2, 5, 5], [2, 2, 3, 3], [2], [2], [2, 2, 3, 3]],
      (t, [x, w1, gamma, beta, w2]) => {
        const params = new Map([w1, gamma, beta, w2].map((p, i) => [`p${i}`, p]));
        const weight: WeightFn = (name) => params.get(name)!;
        const block = (name: string) => (tape: Tape, input: Value, w: WeightFn) => {
          const y = batchNorm(tape, conv2d(tape, input, w(name, []), { stride: 1, pad: 1 }), w('p1', []), w('p2', []), 1, 1e-5).y;
          return { y: relu(tape, add(tape, y, input)), extra: null };
        };
        const first = checkpoint(t, x, weight, block('p0')).y;
        return globalAvgPool(t, checkpoint(t, first, weight, block('p3')).y);
      },
      { tol: 5e-3, eps: 1e-3 },
    );
  });
});

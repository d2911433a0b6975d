import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as Ort from 'onnxruntime-node';
import { loadOnnxRuntime } from '../../src/models/onnx-runtime.js';
import { initBackend } from '../../src/models/backend.js';
import { FlowBank } from '../../src/models/flow-bank.js';
import { exportFlowBankToOnnx, FLOW_INPUT, FLOW_OUTPUT, type FlowGraphLayout } from '../../src/models/onnx-flow.js';
import { OnnxFlowScorer } from '../../src/models/onnx-flow-scorer.js';
import { readOnnxMetadata } from '../../src/models/onnx-model.js';
import { Rng } from '../../src/rng.js';

const ort = await loadOnnxRuntime('onnx-flow test');

/** Agreement criterion: max |onnx - tfjs| over every row and class, in nats per dimension. */
const TOL = 1e-4;

/** Largest differences seen (and the largest |l| of the case), printed at the end. */
const seen: Record<string, string> = {};

/**
 * A bank trained for a few steps per class on shifted, scaled Gaussian rows, so that every
 * ActNorm is data-initialised and every coupling (last layer starts at zero) is non-trivial.
 */
function trainedBank(K: number, D: number, stepsPerClass: number, seed: number, lr = 3e-3): FlowBank {
  const bank = new FlowBank({ numClasses: K, dim: D, batchSize: 16, seed, lr });
  const rng = new Rng(seed + 100);
  const n = 16 * K * stepsPerClass;
  const x = new Float32Array(n * D);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % K;
    labels[i] = c;
    for (let j = 0; j < D; j++) x[i * D + j] = rng.normal() * (0.5 + ((j + c) % 3) * 0.5) + Math.sin(j + c) + (j > 0 ? 0.3 * x[i * D + j - 1] : 0);
  }
  bank.update(x, labels);
  bank.endEpoch();
  return bank;
}

/**
 * Adds N(0, sigma^2) noise to every parameter of every flow (internal order, as stored), so
 * that the couplings' last layers are far from their zero start and a misread weight shows.
 */
function perturb(bank: FlowBank, sigma: number, seed: number): void {
  const rng = new Rng(seed);
  for (let c = 0; c < bank.numClasses; c++) {
    const state = bank.flow(c).getState();
    for (let i = 0; i < state.params.length; i++) state.params[i] += sigma * rng.normal();
    bank.flow(c).setState(state);
  }
}

/** Test rows: in-distribution-like and some far off (larger |z|, saturated tanh). */
function testRows(n: number, D: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n * D }, (_, i) => rng.normal() * (i % 7 === 0 ? 4 : 1) + Math.sin(i % D));
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function expectAgreement(label: string, bank: FlowBank, x: Float32Array, n: number, layout: FlowGraphLayout, chunk?: number): Promise<void> {
  const ref = bank.logProb(x, n);
  const scorer = await OnnxFlowScorer.create(bank, { provider: 'cpu', layout, chunk });
  try {
    const got = await scorer.logProb(x, n);
    expect(got.length).toBe(n * bank.numClasses);
    expect(ref.every(Number.isFinite)).toBe(true);
    const diff = maxDiff(got, ref);
    seen[`${label} ${layout}`] = `${diff.toExponential(2)} (max |l| ${ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0).toFixed(2)})`;
    expect(diff).toBeLessThanOrEqual(TOL);
  } finally {
    await scorer.close();
  }
}

describe('exportFlowBankToOnnx + OnnxFlowScorer', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  afterAll(() => {
    console.log(`max |onnx - tfjs| per case: ${JSON.stringify(seen)}`);
  });

  it('matches FlowBank.logProb for K = 3, D = 8 (both layouts, several chunks)', async () => {
    const bank = trainedBank(3, 8, 20, 1);
    expect([0, 1, 2].every((c) => bank.flow(c).isInitialized && bank.stepsTaken(c) === 20)).toBe(true);
    const x = testRows(700, 8, 2);
    for (const layout of ['per-flow', 'batched'] as const) await expectAgreement('K3 D8', bank, x, 700, layout, 256);
    perturb(bank, 0.3, 12);
    for (const layout of ['per-flow', 'batched'] as const) await expectAgreement('K3 D8 perturbed', bank, x, 700, layout, 256);
    bank.dispose();
  });

  it('matches for odd-sized halves (D = 6) and 3 flow steps', async () => {
    const bank = new FlowBank({ numClasses: 2, dim: 6, steps: 3, seed: 5, lr: 3e-3 });
    const rng = new Rng(6);
    const n = 640;
    const x = Float32Array.from({ length: n * 6 }, () => rng.normal() * 2 + 1);
    bank.update(x, Int32Array.from({ length: n }, (_, i) => i % 2));
    bank.endEpoch();
    perturb(bank, 0.3, 14);
    for (const layout of ['per-flow', 'batched'] as const) await expectAgreement('K2 D6 steps3', bank, testRows(100, 6, 7), 100, layout);
    bank.dispose();
  });

  it('matches for K = 10, D = 512', async () => {
    const bank = trainedBank(10, 512, 3, 3, 1e-3);
    const x = testRows(300, 512, 4);
    for (const layout of ['per-flow', 'batched'] as const) await expectAgreement('K10 D512', bank, x, 300, layout);
    perturb(bank, 0.03, 13);
    for (const layout of ['per-flow', 'batched'] as const) await expectAgreement('K10 D512 perturbed', bank, x, 300, layout);
    bank.dispose();
  });

  it('matches for a single flow fresh from construction (ActNorm not initialised)', async () => {
    const bank = new FlowBank({ numClasses: 1, dim: 4, seed: 9 });
    await expectAgreement('K1 D4 fresh', bank, testRows(10, 4, 8), 10, 'per-flow');
    bank.dispose();
  });

  it('writes a graph with input x [N, D] and output loglik [N, K], batch size free', async () => {
    const bank = trainedBank(2, 4, 2, 11);
    const bytes = exportFlowBankToOnnx(bank);
    expect(readOnnxMetadata(bytes)).toMatchObject({ gssd_flow_classes: '2', gssd_flow_dim: '4' });
    const session = await ort.InferenceSession.create(bytes);
    try {
      expect(session.inputNames).toEqual([FLOW_INPUT]);
      expect(session.outputNames).toEqual([FLOW_OUTPUT]);
      for (const n of [1, 5]) {
        const x = testRows(n, 4, n);
        const out = await session.run({ [FLOW_INPUT]: new ort.Tensor('float32', x, [n, 4]) });
        expect((out[FLOW_OUTPUT] as Ort.Tensor).dims).toEqual([n, 2]);
      }
    } finally {
      await session.release();
    }
    bank.dispose();
  });

  it('rejects bad options', async () => {
    const bank = new FlowBank({ numClasses: 1, dim: 2 });
    await expect(OnnxFlowScorer.create(bank, { threads: 0 })).rejects.toThrow(/threads/);
    await expect(OnnxFlowScorer.create(bank, { provider: 'tpu' as 'cpu' })).rejects.toThrow(/provider/);
    expect(() => exportFlowBankToOnnx(bank, { layout: 'wide' as 'batched' })).toThrow(/layout/);
    bank.dispose();
  });
});

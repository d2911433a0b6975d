import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/models/backend.js';
import { FlowBank } from '../../src/models/flow-bank.js';
import { Rng } from '../../src/rng.js';

function rows(rng: Rng, n: number, d: number, shift: number): Float32Array {
  return Float32Array.from({ length: n * d }, () => rng.normal() + shift);
}

describe('FlowBank', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('steps a flow per full class buffer and on the remainders at the end of an epoch', () => {
    const bank = new FlowBank({ numClasses: 3, dim: 4, batchSize: 16, seed: 1 });
    const rng = new Rng(2);
    const labels = new Int32Array(140).map((_, i) => (i < 100 ? 0 : 1));
    rng.shuffle(Array.from(labels)).forEach((v, i) => (labels[i] = v));
    bank.update(rows(rng, 140, 4, 0), labels);
    expect([bank.stepsTaken(0), bank.buffered(0)]).toEqual([6, 4]);
    expect([bank.stepsTaken(1), bank.buffered(1)]).toEqual([2, 8]);
    expect([bank.stepsTaken(2), bank.buffered(2)]).toEqual([0, 0]);
    bank.endEpoch();
    expect([bank.stepsTaken(0), bank.stepsTaken(1), bank.stepsTaken(2)]).toEqual([7, 3, 0]);
    expect(bank.buffered(0) + bank.buffered(1)).toBe(0);
    bank.dispose();
  });

  it('rejects labels outside [0, K)', () => {
    const bank = new FlowBank({ numClasses: 2, dim: 2 });
    expect(() => bank.update(new Float32Array(2), new Int32Array([2]))).toThrow(/label 2 outside \[0, 2\)/);
    bank.dispose();
  });

  it('returns n x K log-likelihoods, each flow fitted to its own class', () => {
    const d = 4;
    const bank = new FlowBank({ numClasses: 2, dim: d, batchSize: 32, seed: 3, lr: 3e-3 });
    const rng = new Rng(4);
    for (let epoch = 0; epoch < 5; epoch++) {
      const x = new Float32Array(512 * d);
      const labels = new Int32Array(512);
      for (let i = 0; i < 512; i++) {
        labels[i] = i % 2;
        for (let j = 0; j < d; j++) x[i * d + j] = rng.normal() * 0.5 + (labels[i] ? 3 : -3);
      }
      bank.update(x, labels);
      bank.endEpoch();
    }
    const test = new Float32Array(2 * d);
    test.fill(-3, 0, d);
    test.fill(3, d, 2 * d);
    const L = bank.logProb(test, 2);
    expect(L.length).toBe(4);
    expect(L[0]).toBeGreaterThan(L[1]); // row 0 (class 0 region): flow 0 likes it more
    expect(L[3]).toBeGreaterThan(L[2]);
    expect(L[0]).toBeCloseTo(bank.flow(0).logProb(test, 2)[0], 6);
    expect(L[3]).toBeCloseTo(bank.flow(1).logProb(test, 2)[1], 6);
    bank.dispose();
  });

  it('continues identically from its state, buffers included, without leaking tensors', () => {
    const d = 6;
    const rng = new Rng(5);
    const bank = new FlowBank({ numClasses: 3, dim: d, batchSize: 8, seed: 9 });
    const labels = Int32Array.from({ length: 50 }, () => rng.int(3));
    const x = rows(rng, 50, d, 1);
    bank.update(x, labels);
    const copy = FlowBank.fromState(bank.getState());
    const before = tf.memory().numTensors;
    bank.update(x, labels);
    bank.endEpoch();
    copy.update(x, labels);
    copy.endEpoch();
    expect(copy.logProb(x, 50)).toEqual(bank.logProb(x, 50));
    copy.dispose();
    bank.dispose();
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before);
  });
});

describe('FlowBank on wasm', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('ends in the same state whether rows come in large calls or one at a time', () => {
    const d = 8;
    const rng = new Rng(11);
    const bank = new FlowBank({ numClasses: 4, dim: d, batchSize: 4, seed: 2 });
    const solo = FlowBank.fromState(bank.getState());
    for (let round = 0; round < 3; round++) {
      const n = 45;
      const x = Float32Array.from({ length: n * d }, () => rng.normal() + round);
      const labels = Int32Array.from({ length: n }, () => rng.int(4));
      bank.update(x, labels);
      for (let i = 0; i < n; i++) solo.update(x.subarray(i * d, (i + 1) * d), labels.subarray(i, i + 1));
    }
    bank.endEpoch();
    solo.endEpoch();
    const probe = Float32Array.from({ length: 10 * d }, () => rng.normal());
    const a = bank.logProb(probe, 10);
    const b = solo.logProb(probe, 10);
    for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i], 5);
    expect([0, 1, 2, 3].map((c) => bank.stepsTaken(c))).toEqual([0, 1, 2, 3].map((c) => solo.stepsTaken(c)));
    bank.dispose();
    solo.dispose();
  });
});

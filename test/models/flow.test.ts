import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/models/backend.js';
import { Flow } from '../../src/models/flow.js';
import { Rng } from '../../src/rng.js';

/** Plain-JS change of variables for a flow's current weights. */
function referenceLogProb(flow: Flow, x: Float64Array | Float32Array, n: number): Float64Array {
  const { dim: d, hidden: hd, steps } = flow.config;
  const h = d / 2;
  const p = flow.naturalParams();
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let z = Array.from(x.subarray(i * d, (i + 1) * d));
    let logdet = 0;
    for (let k = 0; k < steps; k++) {
      const l = flow.stepLayout(k);
      const a = z.map((v, j) => (v + p[l.loc + j]) * Math.exp(p[l.logs + j]));
      for (let j = 0; j < d; j++) logdet += p[l.logs + j];
      const hid: number[] = [];
      for (let u = 0; u < hd; u++) {
        let s = p[l.b1 + u];
        for (let j = 0; j < h; j++) s += a[j] * p[l.w1 + j * hd + u];
        hid.push(Math.max(0, s));
      }
      const o: number[] = [];
      for (let j = 0; j < d; j++) {
        let s = p[l.b2 + j];
        for (let u = 0; u < hd; u++) s += hid[u] * p[l.w2 + u * d + j];
        o.push(s);
      }
      const y = a.slice();
      for (let j = 0; j < h; j++) {
        const ls = Math.tanh(o[j]);
        logdet += ls;
        y[h + j] = a[h + j] * Math.exp(ls) + o[h + j];
      }
      z = k < steps - 1 ? y.reverse() : y;
    }
    const logp = -0.5 * z.reduce((s, v) => s + v * v, 0) - 0.5 * d * Math.log(2 * Math.PI);
    out[i] = (logp + logdet) / d;
  }
  return out;
}

function randomizeWeights(flow: Flow, seed: number, scale = 0.5): void {
  const rng = new Rng(seed);
  const p = new Float32Array(flow.size);
  for (let i = 0; i < p.length; i++) p[i] = rng.uniform(-scale, scale);
  flow.setNaturalParams(p);
}

function gaussianRows(rng: Rng, n: number, d: number): Float32Array {
  const x = new Float32Array(n * d);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  return x;
}

describe('Flow', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('gives the change-of-variables value for hand-set weights', () => {
    const flow = new Flow({ dim: 6, seed: 3 });
    randomizeWeights(flow, 7);
    const x = gaussianRows(new Rng(1), 20, 6);
    const got = flow.logProb(x, 20);
    const want = referenceLogProb(flow, x, 20);
    for (let i = 0; i < 20; i++) expect(got[i]).toBeCloseTo(want[i], 4);
    flow.dispose();
  });

  it('integrates to 1 in 2-D', () => {
    const flow = new Flow({ dim: 2, seed: 5 });
    randomizeWeights(flow, 11, 0.8);
    const step = 0.04;
    const side = 400; // [-8, 8]
    const pts = new Float32Array(side * side * 2);
    for (let i = 0; i < side; i++) {
      for (let j = 0; j < side; j++) {
        pts[(i * side + j) * 2] = -8 + (i + 0.5) * step;
        pts[(i * side + j) * 2 + 1] = -8 + (j + 0.5) * step;
      }
    }
    const l = flow.logProb(pts, side * side);
    let total = 0;
    for (const v of l) total += Math.exp(v * 2) * step * step;
    expect(Math.abs(total - 1)).toBeLessThan(0.02);
    flow.dispose();
  });

  it('has the gradient autodiff gives', () => {
    const flow = new Flow({ dim: 6, seed: 3 });
    randomizeWeights(flow, 9);
    const n = 5;
    const x = gaussianRows(new Rng(2), n, 6);
    const { loss, grad } = flow.lossAndGradient(x, n);
    // autodiff of the same loss through tf ops on a flat parameter tensor
    const { dim: d, hidden: hd } = flow.config;
    const h = d / 2;
    const lossOf = (p: tf.Tensor1D): tf.Scalar => {
      let z = tf.tensor2d(x, [n, d]) as tf.Tensor2D;
      let logdet: tf.Tensor = tf.zeros([n]);
      for (let k = 0; k < 2; k++) {
        const l = flow.stepLayout(k);
        const loc = tf.slice(p, l.loc, d);
        const logs = tf.slice(p, l.logs, d);
        const w1 = tf.reshape(tf.slice(p, l.w1, h * hd), [h, hd]) as tf.Tensor2D;
        const b1 = tf.slice(p, l.b1, hd);
        const w2 = tf.reshape(tf.slice(p, l.w2, hd * d), [hd, d]) as tf.Tensor2D;
        const b2 = tf.slice(p, l.b2, d);
        const a = tf.mul(tf.add(z, loc), tf.exp(logs)) as tf.Tensor2D;
        const [x1, x2] = tf.split(a, 2, 1) as tf.Tensor2D[];
        const o = tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(x1, w1), b1)) as tf.Tensor2D, w2), b2);
        const [sr, t] = tf.split(o, 2, 1);
        const ls = tf.tanh(sr);
        logdet = tf.add(logdet, tf.add(tf.sum(ls, 1), tf.sum(logs)));
        const y = tf.concat([x1, tf.add(tf.mul(x2, tf.exp(ls)), t)], 1) as tf.Tensor2D;
        z = k === 0 ? (tf.reverse(y, 1) as tf.Tensor2D) : y;
      }
      const logp = tf.sub(tf.mul(tf.sum(tf.square(z), 1), -0.5), 0.5 * d * Math.log(2 * Math.PI));
      return tf.neg(tf.mean(tf.div(tf.add(logp, logdet), d))) as tf.Scalar;
    };
    const p = tf.tensor1d(flow.naturalParams());
    const want = tf.tidy(() => tf.grad(lossOf as (x: tf.Tensor) => tf.Tensor)(p).dataSync());
    const wantLoss = tf.tidy(() => lossOf(p).dataSync()[0]);
    p.dispose();
    expect(loss).toBeCloseTo(wantLoss, 5);
    for (let i = 0; i < grad.length; i++) expect(grad[i]).toBeCloseTo(want[i], 5);
    flow.dispose();
  });

  it('initialises ActNorm from the first batch', () => {
    const flow = new Flow({ dim: 4, seed: 1 });
    const rng = new Rng(4);
    const x = new Float32Array(64 * 4).map((_, i) => 3 + 2 * (i % 4) + rng.normal() * (1 + (i % 4)));
    flow.trainStep(x, 64);
    const l = flow.stepLayout(0);
    let mean0 = 0;
    for (let i = 0; i < 64; i++) mean0 += x[i * 4];
    mean0 /= 64;
    expect(flow.naturalParams()[l.loc]).toBeCloseTo(-mean0, 2); // moved by one Adam step of 1e-3 at most
    flow.dispose();
  });

  it('learns a Gaussian to within 0.05 nats per dimension', () => {
    const d = 4;
    const sig = [0.5, 2, 0.3, 1];
    const sample = (rng: Rng, n: number): Float32Array => {
      const x = new Float32Array(n * d);
      for (let i = 0; i < n; i++) {
        const a = 1 + sig[0] * rng.normal();
        const b = -2 + sig[1] * rng.normal();
        x[i * d] = a;
        x[i * d + 1] = b;
        x[i * d + 2] = 0.5 * a + sig[2] * rng.normal();
        x[i * d + 3] = -0.3 * b + 1 + sig[3] * rng.normal();
      }
      return x;
    };
    const truth = -sig.reduce((s, v) => s + 0.5 * Math.log(2 * Math.PI * Math.E * v * v), 0) / d;
    const rng = new Rng(8);
    const train = sample(rng, 4096);
    const flow = new Flow({ dim: d, seed: 2, lr: 3e-3 });
    const batch = 128;
    for (let epoch = 0; epoch < 40; epoch++) {
      for (let i = 0; i + batch <= 4096; i += batch) flow.trainStep(train.subarray(i * d, (i + batch) * d), batch);
    }
    const test = sample(rng, 8192);
    const l = flow.logProb(test, 8192);
    const mean = l.reduce((s, v) => s + v, 0) / l.length;
    expect(Math.abs(mean - truth)).toBeLessThan(0.05);
    flow.dispose();
  });

  it('steps several flows together as it steps each alone', () => {
    const rng = new Rng(12);
    const a = new Flow({ dim: 6, seed: 1 });
    const b = new Flow({ dim: 6, seed: 2 });
    const a2 = Flow.fromState(a.getState());
    const b2 = Flow.fromState(b.getState());
    for (let i = 0; i < 3; i++) {
      const xa = gaussianRows(rng, 8, 6);
      const xb = gaussianRows(rng, 8, 6);
      const [la, lb] = Flow.trainMany([a, b], [xa, xb], 8);
      expect(la).toBeCloseTo(a2.trainStep(xa, 8), 5);
      expect(lb).toBeCloseTo(b2.trainStep(xb, 8), 5);
    }
    const probe = gaussianRows(rng, 5, 6);
    const [pa, pa2, pb, pb2] = [a, a2, b, b2].map((f) => f.logProb(probe, 5));
    for (let i = 0; i < 5; i++) {
      expect(pa[i]).toBeCloseTo(pa2[i], 5);
      expect(pb[i]).toBeCloseTo(pb2[i], 5);
    }
    for (const f of [a, b, a2, b2]) f.dispose();
  });

  it('does not leak tensors across steps and round-trips its state', () => {
    const flow = new Flow({ dim: 8, seed: 1 });
    const x = gaussianRows(new Rng(3), 16, 8);
    flow.trainStep(x, 16);
    flow.logProb(x, 16);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      flow.trainStep(x, 16);
      flow.logProb(x, 16);
    }
    expect(tf.memory().numTensors).toBe(before);
    const copy = Flow.fromState(flow.getState());
    expect(copy.logProb(x, 16)).toEqual(flow.logProb(x, 16));
    copy.trainStep(x, 16);
    flow.trainStep(x, 16);
    expect(copy.logProb(x, 16)).toEqual(flow.logProb(x, 16));
    copy.dispose();
    flow.dispose();
  });
});

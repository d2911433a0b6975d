/**
 * The per-class normalizing flow of GSSD (docs/method.md, step 3): `steps` x
 * [ActNorm(D) -> AffineCoupling -> reverse the feature order (not after the last step)],
 * base N(0, I), scored by the per-dimension log-likelihood
 * l(x) = (log N(f(x); 0, I) + sum of log-determinants) / D.
 *
 * The parameters and the Adam moments live in flat Float32Arrays (so the state is trivially
 * serialisable and the optimiser is one fused loop); the forward and the hand-written backward
 * run as TensorFlow.js ops on the active backend. Speed notes (a batch-16 step is ~130 small
 * kernels): the reversal between steps is folded into a permuted storage of the odd steps'
 * parameters (no reverse op, halves never concatenated); training runs feature-major so the
 * weights are the left operand of every product (backends pack the right one on each call);
 * no transposed matMul (slow on wasm). Scoring runs row-major, the weights cached as the
 * packed right operand across chunks. The matrices are stored [in, out] (`x @ W + b`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../rng.js';

const LOG_2PI = Math.log(2 * Math.PI);

export interface FlowOptions {
  /** Feature dimension D (even). */
  dim: number;
  /** Number of ActNorm + coupling steps. Default 2. */
  steps?: number;
  /** Hidden width of the coupling MLP. Default D/2. */
  hidden?: number;
  /** Adam learning rate. Default 1e-3. */
  lr?: number;
  /** Adam beta1. Default 0.9. */
  beta1?: number;
  /** Adam beta2. Default 0.99. */
  beta2?: number;
  /** Adam epsilon. Default 1e-8. */
  eps?: number;
  /** Seed of the weight initialisation. Default 0. */
  seed?: number;
}

/** Everything needed to rebuild a flow exactly: config, weights, Adam moments. */
export interface FlowState {
  config: Required<FlowOptions>;
  /** Whether ActNorm has been initialised from data. */
  initialized: boolean;
  /** Adam steps taken. */
  step: number;
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
}

/** Offsets of one step's parameters in the flat parameter vector. */
export interface StepLayout {
  loc: number;
  logs: number;
  w1: number;
  b1: number;
  w2: number;
  b2: number;
}

/**
 * Where each step's parameters sit in a flow's flat parameter vector: per step loc[D],
 * logs[D], W1[D/2, hidden], b1[hidden], W2[hidden, D], b2[D]; and the vector's length.
 *
 * @example
 *   const { steps, size } = flowLayout(512, 256, 2);   // steps[1].w1: offset of step 1's W1
 */
export function flowLayout(dim: number, hidden: number, steps: number): { steps: StepLayout[]; size: number } {
  const h = dim / 2;
  const out: StepLayout[] = [];
  let off = 0;
  for (let k = 0; k < steps; k++) {
    const w1 = off + 2 * dim;
    const b1 = w1 + h * hidden;
    const w2 = b1 + hidden;
    const b2 = w2 + hidden * dim;
    out.push({ loc: off, logs: off + dim, w1, b1, w2, b2 });
    off = b2 + dim;
  }
  return { steps: out, size: off };
}

/** The weights of one step as tensors, split into the conditioning (C) and transformed (X) halves. */
interface StepTensors {
  sC: tf.Tensor1D;
  cC: tf.Tensor1D;
  sX: tf.Tensor1D;
  cX: tf.Tensor1D;
  w1: tf.Tensor2D;
  b1: tf.Tensor1D;
  w2s: tf.Tensor2D;
  w2t: tf.Tensor2D;
  b2s: tf.Tensor1D;
  b2t: tf.Tensor1D;
}

/** The weights of one step for training: column vectors [h, 1], matrices as left operands. */
interface TrainTensors {
  sC: tf.Tensor2D;
  cC: tf.Tensor2D;
  sX: tf.Tensor2D;
  cX: tf.Tensor2D;
  /** Sum of the ActNorm log-scales, [1]. */
  logsSum: tf.Tensor1D;
  /** W1 [h, hd] and its transpose [hd, h]. */
  w1: tf.Tensor2D;
  w1T: tf.Tensor2D;
  b1: tf.Tensor2D;
  /** W2 [hd, D] and the two halves of its transpose, [h, hd] each. */
  w2: tf.Tensor2D;
  w2sT: tf.Tensor2D;
  w2tT: tf.Tensor2D;
  b2s: tf.Tensor2D;
  b2t: tf.Tensor2D;
}

/**
 * One RealNVP-style flow with its own Adam optimiser.
 *
 * @example
 *   const flow = new Flow({ dim: 512, seed: 1 });
 *   const loss = flow.trainStep(batch, 16);        // batch: Float32Array 16 x 512
 *   const l = flow.logProb(features, n);           // Float32Array n, nats per dimension
 *   flow.dispose();
 */
export class Flow {
  readonly config: Required<FlowOptions>;
  private readonly params: Float32Array;
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  private readonly layout: StepLayout[];
  private tensors: StepTensors[] | undefined;
  private trainTensors: TrainTensors[] | undefined;
  private initialized = false;
  private stepCount = 0;

  constructor(options: FlowOptions) {
    const config: Required<FlowOptions> = {
      dim: options.dim,
      steps: options.steps ?? 2,
      hidden: options.hidden ?? options.dim / 2,
      lr: options.lr ?? 1e-3,
      beta1: options.beta1 ?? 0.9,
      beta2: options.beta2 ?? 0.99,
      eps: options.eps ?? 1e-8,
      seed: options.seed ?? 0,
    };
    if (!Number.isInteger(config.dim) || config.dim < 2 || config.dim % 2 !== 0) {
      throw new Error(`Expected \`dim\` to be an even integer from 2 and up, got \`${config.dim}\``);
    }
    if (!Number.isInteger(config.hidden) || config.hidden < 1) {
      throw new Error(`Expected \`hidden\` to be an integer from 1 and up, got \`${config.hidden}\``);
    }
    this.config = config;
    const { steps: layout, size: off } = flowLayout(config.dim, config.hidden, config.steps);
    this.layout = layout;
    this.params = new Float32Array(off);
    this.m = new Float32Array(off);
    this.v = new Float32Array(off);
    // PyTorch Linear init for the first layer, U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the last
    // layer is zero so that every coupling starts as the identity.
    const rng = new Rng(config.seed);
    const bound = 1 / Math.sqrt(config.dim / 2);
    for (const l of this.layout) {
      for (let i = l.w1; i < l.b1 + config.hidden; i++) this.params[i] = rng.uniform(-bound, bound);
    }
  }

  /** Number of parameters. */
  get size(): number {
    return this.params.length;
  }

  /** Adam steps taken so far. */
  get steps(): number {
    return this.stepCount;
  }

  /** Whether ActNorm has been initialised from a first batch. */
  get isInitialized(): boolean {
    return this.initialized;
  }

  /**
   * One Adam step on the mean of -l(x) over a batch of `n` rows (row-major n x D). The first
   * call initialises every ActNorm from this batch. Returns the loss before the step.
   *
   * @example
   *   const loss = flow.trainStep(rows, 16);
   */
  trainStep(x: Float32Array, n: number): number {
    return Flow.trainMany([this], [x], n)[0];
  }

  /**
   * One Adam step on each of several flows (same configuration), flow i on its own batch
   * xs[i] of `n` rows, computed together (the elementwise kernels batched over the flows, the
   * products flow by flow). Each flow ends where its own `trainStep` would. Measured on wasm
   * with 10 flows at batch 16 it is not faster than stepping them one by one (the stacking
   * and unstacking eat the saved dispatches), so `FlowBank` steps flows one by one.
   * Returns the losses before the steps.
   *
   * @example
   *   const [l0, l1] = Flow.trainMany([flowA, flowB], [rowsA, rowsB], 16);
   */
  static trainMany(flows: Flow[], xs: Float32Array[], n: number): number[] {
    const values = Flow.gradientMany(flows, xs, n);
    const size = flows[0].params.length;
    return flows.map((f, g) => {
      const row = values.subarray(g * (size + 1), (g + 1) * (size + 1));
      f.adam(row);
      return row[size];
    });
  }

  /**
   * The loss mean(-l(x)) over `n` rows and its gradient, in the natural parameter order of
   * `naturalParams` (no step taken, no ActNorm init).
   *
   * @example
   *   const { loss, grad } = flow.lossAndGradient(rows, 16);
   */
  lossAndGradient(x: Float32Array, n: number): { loss: number; grad: Float32Array } {
    const size = this.params.length;
    const values = Flow.gradientMany([this], [x], n, false);
    return { loss: values[size], grad: this.permute(values.slice(0, size)) };
  }

  /** Per flow: the internal-order gradient followed by the loss, G x (P + 1) row-major. */
  private static gradientMany(flows: Flow[], xs: Float32Array[], n: number, init = true): Float32Array {
    const c = flows[0].config;
    const d = c.dim;
    for (const [g, f] of flows.entries()) {
      if (f.config.dim !== d || f.config.hidden !== c.hidden || f.config.steps !== c.steps) {
        throw new Error('Flow.trainMany needs flows of one configuration');
      }
      if (xs[g].length < n * d || n < 1) throw new Error(`Expected ${n} x ${d} features, got ${xs[g].length} values`);
      if (init && !f.initialized) f.initActNorm(xs[g], n);
    }
    const flat = tf.tidy(() => Flow.lossAndGradsMany(flows, xs, n));
    const values = flat.dataSync() as Float32Array;
    flat.dispose();
    return values;
  }

  /**
   * Per-dimension log-likelihoods l(x) of `n` rows (row-major n x D), in chunks.
   *
   * @example
   *   const l = flow.logProb(features, n);   // l[i] in nats per dimension
   */
  logProb(x: Float32Array, n: number, chunk = 4096): Float32Array {
    const d = this.config.dim;
    const out = new Float32Array(n);
    for (let start = 0; start < n; start += chunk) {
      const rows = Math.min(chunk, n - start);
      const t = tf.tidy(() => this.logProbTensor(tf.tensor2d(x.subarray(start * d, (start + rows) * d), [rows, d])));
      out.set(t.dataSync() as Float32Array, start);
      t.dispose();
    }
    return out;
  }

  /**
   * Per-dimension log-likelihoods of a [n, D] tensor, as a tensor (no gradient support: the
   * flow trains through `trainStep`).
   *
   * @example
   *   const l = tf.tidy(() => flow.logProbTensor(x));
   */
  logProbTensor(x: tf.Tensor2D): tf.Tensor1D {
    const w = this.weights();
    const d = this.config.dim;
    let logsSum = 0;
    for (const l of this.layout) for (let j = 0; j < d; j++) logsSum += this.params[l.logs + j];
    return tf.tidy(() => {
      const { halves, lsRows } = this.forward(x, w.length);
      const sq = tf.add(tf.sum(tf.square(halves[0]), 1), tf.sum(tf.square(halves[1]), 1));
      // l = (-0.5 |z|^2 - 0.5 D log 2pi + sum logs + sum ls) / D
      const c = (-0.5 * d * LOG_2PI + logsSum) / d;
      return tf.add(tf.mul(tf.sub(lsRows!, tf.mul(sq, 0.5)), 1 / d), c) as tf.Tensor1D;
    });
  }

  /** The full state, copied, for checkpoints. */
  getState(): FlowState {
    return {
      config: { ...this.config },
      initialized: this.initialized,
      step: this.stepCount,
      params: this.params.slice(),
      m: this.m.slice(),
      v: this.v.slice(),
    };
  }

  /** Restores a state from `getState` (same config). */
  setState(state: FlowState): void {
    if (state.params.length !== this.params.length) {
      throw new Error(`Flow state holds ${state.params.length} parameters, this flow has ${this.params.length}`);
    }
    this.params.set(state.params);
    this.m.set(state.m);
    this.v.set(state.v);
    this.initialized = state.initialized;
    this.stepCount = state.step;
    this.releaseTensors();
  }

  /**
   * A flow rebuilt from a state.
   *
   * @example
   *   const copy = Flow.fromState(flow.getState());
   */
  static fromState(state: FlowState): Flow {
    const flow = new Flow(state.config);
    flow.setState(state);
    return flow;
  }

  /** Frees the weight tensors (the flow stays usable: they are rebuilt on demand). */
  dispose(): void {
    this.releaseTensors();
  }

  /**
   * The parameters in their natural meaning (as in the PyTorch reference: ActNorm vectors
   * indexed by feature, MLP matrices [in, out], outputs log_s then t), a copy. Internally the
   * odd steps are stored permuted so that the feature reversal between steps costs nothing.
   *
   * @example
   *   const p = flow.naturalParams(); const l = flow.stepLayout(0); p[l.loc] // shift of feature 0
   */
  naturalParams(): Float32Array {
    return this.permute(this.params.slice());
  }

  /** Sets the parameters from their natural meaning (see `naturalParams`); marks ActNorm initialised. */
  setNaturalParams(values: Float32Array): void {
    if (values.length !== this.params.length) {
      throw new Error(`Expected ${this.params.length} parameters, got ${values.length}`);
    }
    this.params.set(this.permute(values.slice()));
    this.initialized = true;
    this.releaseTensors();
  }

  /** Offsets of the parameters of step k in the flat vector, for tests and inspection. */
  stepLayout(k: number): Readonly<StepLayout> {
    return this.layout[k];
  }

  /**
   * Maps natural <-> internal order (an involution): for odd steps the ActNorm vectors are
   * reversed, the rows of W1 reversed, and the columns of each half (log_s, t) of W2 and b2
   * reversed.
   */
  private permute(p: Float32Array): Float32Array {
    const { dim: d, hidden: hd } = this.config;
    const h = d / 2;
    for (let k = 1; k < this.layout.length; k += 2) {
      const l = this.layout[k];
      p.subarray(l.loc, l.loc + d).reverse();
      p.subarray(l.logs, l.logs + d).reverse();
      const w1 = p.slice(l.w1, l.b1);
      for (let r = 0; r < h; r++) p.set(w1.subarray((h - 1 - r) * hd, (h - r) * hd), l.w1 + r * hd);
      for (let r = 0; r < hd; r++) {
        p.subarray(l.w2 + r * d, l.w2 + r * d + h).reverse();
        p.subarray(l.w2 + r * d + h, l.w2 + (r + 1) * d).reverse();
      }
      p.subarray(l.b2, l.b2 + h).reverse();
      p.subarray(l.b2 + h, l.b2 + d).reverse();
    }
    return p;
  }

  private releaseTensors(): void {
    for (const list of [this.tensors, this.trainTensors]) {
      if (list) for (const s of list) for (const t of Object.values(s)) (t as tf.Tensor).dispose();
    }
    this.tensors = undefined;
    this.trainTensors = undefined;
  }

  /**
   * The weights as tensors, split by half: on even steps the first half of the features
   * conditions and the second is transformed, on odd steps (stored permuted) the reverse.
   */
  private weights(): StepTensors[] {
    if (this.tensors) return this.tensors;
    const built: StepTensors[] = [];
    // built inside a tidy (the intermediates go) and kept (callers may be inside their own tidy)
    tf.tidy(() => {
      for (let k = 0; k < this.layout.length; k++) built.push(this.buildStep(k));
      for (const s of built) for (const t of Object.values(s)) tf.keep(t as tf.Tensor);
    });
    this.tensors = built;
    return this.tensors;
  }

  private buildStep(k: number): StepTensors {
    const { dim: d, hidden: hd } = this.config;
    const h = d / 2;
    const p = this.params;
    const l = this.layout[k];
    const cond = k % 2 === 0 ? 0 : h;
    const tr = h - cond;
    const sC = new Float32Array(h).map((_, j) => Math.exp(p[l.logs + cond + j]));
    const sX = new Float32Array(h).map((_, j) => Math.exp(p[l.logs + tr + j]));
    const [w2s, w2t] = tf.split(tf.tensor2d(p.subarray(l.w2, l.b2), [hd, d]), 2, 1) as [tf.Tensor2D, tf.Tensor2D];
    return {
      sC: tf.tensor1d(sC),
      cC: tf.tensor1d(sC.map((v, j) => p[l.loc + cond + j] * v)),
      sX: tf.tensor1d(sX),
      cX: tf.tensor1d(sX.map((v, j) => p[l.loc + tr + j] * v)),
      w1: tf.tensor2d(p.subarray(l.w1, l.b1), [h, hd]),
      b1: tf.tensor1d(p.subarray(l.b1, l.w2)),
      w2s,
      w2t,
      b2s: tf.tensor1d(p.subarray(l.b2, l.b2 + h)),
      b2t: tf.tensor1d(p.subarray(l.b2 + h, l.b2 + d)),
    };
  }

  /**
   * Data-dependent ActNorm init: step by step, shift = -mean and log-scale = -log(std) of the
   * data arriving at that ActNorm (population std + 1e-6; a 1-row batch gets unit scale).
   */
  private initActNorm(x: Float32Array, n: number): void {
    const d = this.config.dim;
    let z: Float32Array = x.subarray(0, n * d);
    for (let k = 0; k < this.layout.length; k++) {
      const l = this.layout[k];
      for (let j = 0; j < d; j++) {
        let mean = 0;
        for (let i = 0; i < n; i++) mean += z[i * d + j];
        mean /= n;
        let varSum = 0;
        for (let i = 0; i < n; i++) varSum += (z[i * d + j] - mean) ** 2;
        const std = n > 1 ? Math.sqrt(varSum / n) + 1e-6 : 1;
        this.params[l.loc + j] = -mean;
        this.params[l.logs + j] = -Math.log(std);
      }
      this.releaseTensors();
      if (k < this.layout.length - 1) {
        const out = tf.tidy(() => {
          const [u1, u2] = this.forward(tf.tensor2d(z, [n, d]) as tf.Tensor2D, k + 1).halves;
          return tf.concat([u1, u2], 1);
        });
        z = out.dataSync() as Float32Array;
        out.dispose();
      }
    }
    this.releaseTensors();
    this.initialized = true;
  }

  /**
   * Runs the first `upto` steps on x (row-major [n, D]; internal coordinates: no reversal,
   * halves kept apart). Returns the output halves and the per-row sum of log_s.
   */
  private forward(
    x: tf.Tensor2D,
    upto: number,
  ): { halves: [tf.Tensor2D, tf.Tensor2D]; lsRows: tf.Tensor1D | undefined } {
    const w = this.weights();
    let [u1, u2] = tf.split(x, 2, 1) as [tf.Tensor2D, tf.Tensor2D];
    let lsRows: tf.Tensor1D | undefined;
    for (let k = 0; k < upto; k++) {
      const s = w[k];
      const even = k % 2 === 0;
      const aC = tf.add(tf.mul(even ? u1 : u2, s.sC), s.cC) as tf.Tensor2D;
      const aX = tf.add(tf.mul(even ? u2 : u1, s.sX), s.cX) as tf.Tensor2D;
      const hid = tf.fused.matMul({ a: aC, b: s.w1, bias: s.b1, activation: 'relu' }) as tf.Tensor2D;
      const ls = tf.tanh(tf.fused.matMul({ a: hid, b: s.w2s, bias: s.b2s })) as tf.Tensor2D;
      const t = tf.fused.matMul({ a: hid, b: s.w2t, bias: s.b2t });
      const e = tf.exp(ls) as tf.Tensor2D;
      const yX = tf.add(tf.mul(aX, e), t) as tf.Tensor2D;
      const r = tf.sum(ls, 1) as tf.Tensor1D;
      lsRows = lsRows ? (tf.add(lsRows, r) as tf.Tensor1D) : r;
      if (even) [u1, u2] = [aC, yX];
      else [u1, u2] = [yX, aC];
    }
    return { halves: [u1, u2], lsRows };
  }

  /**
   * Forward and hand-written backward of loss = mean over rows of -l(x) for G flows at once
   * (a leading batch axis on every tensor), activations feature-major ([G, features, n]) so
   * that every weight matrix is the left operand of its product: the backends pack the right
   * operand on each call (XNNPACK on wasm), and at small batches packing the activations is
   * far cheaper than packing the weights. Returns [G, P + 1]: per flow the gradient in
   * (internal) parameter order, then the loss.
   */
  private static lossAndGradsMany(flows: Flow[], xs: Float32Array[], n: number): tf.Tensor2D {
    const G = flows.length;
    const { dim: d, steps } = flows[0].config;
    const all = flows.map((f) => f.trainWeights());
    const mm = flowByFlowMatMul(all);
    const { caches, lsSum, logsSum, z } = forwardMany(all, mm, featureMajorHalves(xs, n, d), steps);
    const [u1, u2] = z;
    const sq = tf.add(tf.sum(tf.square(u1), [1, 2]), tf.sum(tf.square(u2), [1, 2]));
    // loss = -(1/(nD)) sum_rows [ -0.5|z|^2 - 0.5 D log 2pi + sum logs + sum ls ]
    const loss = tf.div(tf.sub(tf.add(tf.div(tf.mul(sq, 0.5), n), 0.5 * d * LOG_2PI), tf.add(logsSum, tf.div(lsSum, n))), d);
    const grads = backwardMany(caches, mm, z, n, d);
    const parts: tf.Tensor[] = [];
    for (const list of grads) for (const t of list) parts.push(tf.reshape(t, [G, -1]));
    parts.push(tf.reshape(loss, [G, 1]));
    return tf.concat(parts, 1) as tf.Tensor2D;
  }

  /** The weights in the layout of `lossAndGradsMany`: column vectors, weights as left operands. */
  private trainWeights(): TrainTensors[] {
    if (this.trainTensors) return this.trainTensors;
    const { dim: d, hidden: hd } = this.config;
    const h = d / 2;
    const p = this.params;
    // uploads read views of `params` (no copies): every change of `params` releases these
    const built: TrainTensors[] = [];
    tf.tidy(() => {
      this.layout.forEach((l, k) => {
        const cond = k % 2 === 0 ? 0 : h;
        const tr = h - cond;
        const sC = new Float32Array(h).map((_, j) => Math.exp(p[l.logs + cond + j]));
        const sX = new Float32Array(h).map((_, j) => Math.exp(p[l.logs + tr + j]));
        // transposes in JS (tiled), written straight into the upload buffers
        const w1T = transposed(p, l.w1, h, hd, hd, 0);
        const w2sT = transposed(p, l.w2, hd, h, d, 0);
        const w2tT = transposed(p, l.w2, hd, h, d, h);
        const t: TrainTensors = {
          sC: tf.tensor2d(sC, [h, 1]),
          cC: tf.tensor2d(sC.map((v, j) => p[l.loc + cond + j] * v), [h, 1]),
          sX: tf.tensor2d(sX, [h, 1]),
          cX: tf.tensor2d(sX.map((v, j) => p[l.loc + tr + j] * v), [h, 1]),
          logsSum: tf.tensor1d([p.subarray(l.logs, l.logs + d).reduce((a, b) => a + b, 0)]),
          w1: tf.tensor2d(p.subarray(l.w1, l.b1), [h, hd]),
          w1T: tf.tensor2d(w1T, [hd, h]),
          b1: tf.tensor2d(p.subarray(l.b1, l.w2), [hd, 1]),
          w2: tf.tensor2d(p.subarray(l.w2, l.b2), [hd, d]),
          w2sT: tf.tensor2d(w2sT, [h, hd]),
          w2tT: tf.tensor2d(w2tT, [h, hd]),
          b2s: tf.tensor2d(p.subarray(l.b2, l.b2 + h), [h, 1]),
          b2t: tf.tensor2d(p.subarray(l.b2 + h, l.b2 + d), [h, 1]),
        };
        for (const v of Object.values(t)) tf.keep(v as tf.Tensor);
        built.push(t);
      });
    });
    this.trainTensors = built;
    return built;
  }

  /** PyTorch's Adam (no weight decay) over the flat parameter vector. */
  private adam(grad: Float32Array): void {
    const { lr, beta1, beta2, eps } = this.config;
    this.stepCount++;
    const bc1 = 1 - beta1 ** this.stepCount;
    const bc2sqrt = Math.sqrt(1 - beta2 ** this.stepCount);
    const stepSize = lr / bc1;
    const p = this.params;
    const m = this.m;
    const v = this.v;
    const c1 = 1 - beta1;
    const c2 = 1 - beta2;
    const epsScaled = eps * bc2sqrt;
    const scaled = stepSize * bc2sqrt;
    for (let i = 0; i < p.length; i++) {
      const g = grad[i];
      const mi = beta1 * m[i] + c1 * g;
      const vi = beta2 * v[i] + c2 * g * g;
      m[i] = mi;
      v[i] = vi;
      // = stepSize * m / (sqrt(v) / bc2sqrt + eps)
      p[i] -= (scaled * mi) / (Math.sqrt(vi) + epsScaled);
    }
    this.releaseTensors();
  }
}

/** A product of `lossAndGradsMany`: step k's per-flow weight (by key) or a batched activation, times a batched tensor. */
type ManyMatMul = (k: number, a: keyof TrainTensors | tf.Tensor, b: tf.Tensor) => tf.Tensor;

/**
 * Products flow by flow over G flows' train weights: the wasm backend's batched matMul is ~5x
 * slower than a loop of plain ones. `a` is a per-flow weight (by key) or a batched activation.
 */
function flowByFlowMatMul(all: TrainTensors[][]): ManyMatMul {
  const G = all.length;
  return (k, a, b) => {
    const as = typeof a === 'string' ? all.map((w) => w[k][a] as tf.Tensor2D) : G === 1 ? [tf.squeeze(a, [0]) as tf.Tensor2D] : (tf.unstack(a) as tf.Tensor2D[]);
    const bs = G === 1 ? [tf.squeeze(b, [0]) as tf.Tensor2D] : (tf.unstack(b) as tf.Tensor2D[]);
    const out = as.map((x, g) => tf.matMul(x, bs[g]));
    return G === 1 ? tf.expandDims(out[0], 0) : tf.stack(out);
  };
}

/** The two halves of G flows' row-major inputs (n x d each), feature-major: [G, d/2, n] each. */
function featureMajorHalves(xs: Float32Array[], n: number, d: number): [tf.Tensor, tf.Tensor] {
  const G = xs.length;
  const h = d / 2;
  const t1 = new Float32Array(G * h * n);
  const t2 = new Float32Array(G * h * n);
  for (let g = 0; g < G; g++) {
    const x = xs[g];
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < h; j++) {
        t1[(g * h + j) * n + i] = x[i * d + j];
        t2[(g * h + j) * n + i] = x[i * d + h + j];
      }
    }
  }
  return [tf.tensor3d(t1, [G, h, n]), tf.tensor3d(t2, [G, h, n])];
}

/** What the forward pass of one step keeps for the backward pass. */
interface StepCache {
  aC: tf.Tensor;
  aX: tf.Tensor;
  hid: tf.Tensor;
  ls: tf.Tensor;
  e: tf.Tensor;
  w: { [K in keyof TrainTensors]?: tf.Tensor };
}

/**
 * The forward pass of `lossAndGradsMany` over `steps` coupling steps: the final halves z, the
 * per-flow sums of the log-scales and of the ActNorm log-scales, and each step's cache.
 */
function forwardMany(
  all: TrainTensors[][],
  mm: ManyMatMul,
  x: [tf.Tensor, tf.Tensor],
  steps: number,
): { caches: StepCache[]; lsSum: tf.Tensor; logsSum: tf.Tensor; z: [tf.Tensor, tf.Tensor] } {
  const G = all.length;
  const W = <K extends keyof TrainTensors>(k: number, key: K): tf.Tensor =>
    G === 1 ? tf.expandDims(all[0][k][key], 0) : tf.stack(all.map((w) => w[k][key]));
  let [u1, u2] = x;
  const caches: StepCache[] = [];
  let lsSum: tf.Tensor = tf.zeros([G]);
  let logsSum: tf.Tensor = tf.zeros([G]);
  const keys: (keyof TrainTensors)[] = ['sC', 'cC', 'sX', 'cX', 'logsSum', 'b1', 'b2s', 'b2t'];
  for (let k = 0; k < steps; k++) {
    const s = Object.fromEntries(keys.map((key) => [key, W(k, key)])) as StepCache['w'];
    const even = k % 2 === 0;
    const aC = tf.add(tf.mul(even ? u1 : u2, s.sC!), s.cC!);
    const aX = tf.add(tf.mul(even ? u2 : u1, s.sX!), s.cX!);
    const hid = tf.relu(tf.add(mm(k, 'w1T', aC), s.b1!));
    const ls = tf.tanh(tf.add(mm(k, 'w2sT', hid), s.b2s!));
    const t = tf.add(mm(k, 'w2tT', hid), s.b2t!);
    const e = tf.exp(ls);
    const yX = tf.add(tf.mul(aX, e), t);
    caches.push({ aC, aX, hid, ls, e, w: s });
    lsSum = tf.add(lsSum, tf.sum(ls, [1, 2]));
    logsSum = tf.add(logsSum, tf.reshape(s.logsSum!, [G]));
    if (even) [u1, u2] = [aC, yX];
    else [u1, u2] = [yX, aC];
  }
  return { caches, lsSum, logsSum, z: [u1, u2] };
}

/**
 * The hand-written backward pass of `lossAndGradsMany`, from the final halves z: per step (in
 * step order) the gradients of loc (C, X), logs (C, X), W1, b1, W2, b2, in the flow's
 * parameter order.
 */
function backwardMany(caches: StepCache[], mm: ManyMatMul, z: [tf.Tensor, tf.Tensor], n: number, d: number): tf.Tensor[][] {
  const inv = 1 / (n * d);
  const rowSum = (g: tf.Tensor): tf.Tensor => tf.sum(g, 2);
  const tr = (g: tf.Tensor): tf.Tensor3D => tf.transpose(g, [0, 2, 1]) as tf.Tensor3D;
  let g1 = tf.mul(z[0], inv);
  let g2 = tf.mul(z[1], inv);
  const grads: tf.Tensor[][] = [];
  for (let k = caches.length - 1; k >= 0; k--) {
    const c = caches[k];
    const s = c.w;
    const even = k % 2 === 0;
    const gaCout = even ? g1 : g2;
    const gyX = even ? g2 : g1;
    const gaX = tf.mul(gyX, c.e);
    const gls = tf.sub(tf.mul(gaX, c.aX), inv);
    const gsraw = tf.mul(gls, tf.sub(1, tf.square(c.ls)));
    const gout = tf.concat([gsraw, gyX], 1) as tf.Tensor3D; // [G, D, n]
    const gw2 = mm(k, c.hid, tr(gout)); // [G, hd, D]
    const gb2 = rowSum(gout);
    const gpre = tf.mul(mm(k, 'w2', gout), tf.step(c.hid)) as tf.Tensor3D; // [G, hd, n]
    const gw1 = mm(k, c.aC, tr(gpre)); // [G, h, hd]
    const gb1 = rowSum(gpre);
    const gaC = tf.add(gaCout, mm(k, 'w1', gpre));
    const gC = tf.mul(gaC, s.sC!);
    const gX = tf.mul(gaX, s.sX!);
    const glocC = rowSum(gC);
    const glocX = rowSum(gX);
    const glogsC = tf.sub(rowSum(tf.mul(gaC, c.aC)), 1 / d);
    const glogsX = tf.sub(rowSum(tf.mul(gaX, c.aX)), 1 / d);
    grads[k] = even
      ? [glocC, glocX, glogsC, glogsX, gw1, gb1, gw2, gb2]
      : [glocX, glocC, glogsX, glogsC, gw1, gb1, gw2, gb2];
    if (even) [g1, g2] = [gC, gX];
    else [g1, g2] = [gX, gC];
  }
  return grads;
}

/**
 * The transpose of a rows x cols block of a row-major matrix (row stride `stride`, first
 * column `col0`, starting at `offset`), as a new cols x rows array; tiled for the cache.
 */
function transposed(src: Float32Array, offset: number, rows: number, cols: number, stride: number, col0: number): Float32Array {
  const out = new Float32Array(rows * cols);
  const T = 32;
  for (let r0 = 0; r0 < rows; r0 += T) {
    const r1 = Math.min(rows, r0 + T);
    for (let c0 = 0; c0 < cols; c0 += T) {
      const c1 = Math.min(cols, c0 + T);
      for (let r = r0; r < r1; r++) {
        const base = offset + r * stride + col0;
        for (let c = c0; c < c1; c++) out[c * rows + r] = src[base + c];
      }
    }
  }
  return out;
}

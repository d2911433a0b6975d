/**
 * K independent per-class flows (docs/method.md, step 3) fed by a stream of labelled feature rows.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Flow, type FlowState } from './flow.js';
import { hashString } from '../rng.js';

export interface FlowBankOptions {
  /** Number of classes K: one flow each. */
  numClasses: number;
  /** Feature dimension D (even). */
  dim: number;
  /** Rows per optimiser step of one flow. Default 16. */
  batchSize?: number;
  /** Adam learning rate. Default 1e-3. */
  lr?: number;
  /** Adam beta1. Default 0.9. */
  beta1?: number;
  /** Adam beta2. Default 0.99. */
  beta2?: number;
  /** ActNorm + coupling steps per flow. Default 2. */
  steps?: number;
  /** Seed of the weight initialisation (flow c gets a seed derived from it and c). Default 0. */
  seed?: number;
}

/** The whole bank: config, every flow's state, and the rows waiting in each class buffer. */
export interface FlowBankState {
  config: Required<FlowBankOptions>;
  flows: FlowState[];
  /** Rows buffered per class (count x D, row-major). */
  buffers: Float32Array[];
}

/**
 * Buffers rows per class and steps flow c whenever `batchSize` rows of class c are waiting;
 * `endEpoch` steps on each class's remainder (a DataLoader without drop_last, per class).
 *
 * @example
 *   const bank = new FlowBank({ numClasses: 10, dim: 512 });
 *   for (const { h, labels } of batches) bank.update(h, labels);   // h standardised, N x D
 *   bank.endEpoch();
 *   const L = bank.logProb(h, n);   // n x K, per-dimension log-likelihoods
 */
export class FlowBank {
  readonly config: Required<FlowBankOptions>;
  private readonly flows: Flow[];
  private readonly buffers: Float32Array[];
  private readonly counts: number[];

  constructor(options: FlowBankOptions) {
    const config: Required<FlowBankOptions> = {
      numClasses: options.numClasses,
      dim: options.dim,
      batchSize: options.batchSize ?? 16,
      lr: options.lr ?? 1e-3,
      beta1: options.beta1 ?? 0.9,
      beta2: options.beta2 ?? 0.99,
      steps: options.steps ?? 2,
      seed: options.seed ?? 0,
    };
    if (!Number.isInteger(config.numClasses) || config.numClasses < 1) {
      throw new Error(`Expected \`numClasses\` to be an integer from 1 and up, got \`${config.numClasses}\``);
    }
    if (!Number.isInteger(config.batchSize) || config.batchSize < 1) {
      throw new Error(`Expected \`batchSize\` to be an integer from 1 and up, got \`${config.batchSize}\``);
    }
    this.config = config;
    this.flows = Array.from(
      { length: config.numClasses },
      (_, c) =>
        new Flow({
          dim: config.dim,
          steps: config.steps,
          lr: config.lr,
          beta1: config.beta1,
          beta2: config.beta2,
          seed: hashString(`${config.seed}:flow:${c}`),
        }),
    );
    this.buffers = this.flows.map(() => new Float32Array(config.batchSize * config.dim));
    this.counts = this.flows.map(() => 0);
  }

  get numClasses(): number {
    return this.config.numClasses;
  }

  get dim(): number {
    return this.config.dim;
  }

  /** The flow of class c. */
  flow(c: number): Flow {
    return this.flows[c];
  }

  /** Optimiser steps flow c has taken. */
  stepsTaken(c: number): number {
    return this.flows[c].steps;
  }

  /** Rows of class c waiting in its buffer. */
  buffered(c: number): number {
    return this.counts[c];
  }

  /**
   * Feeds `n` rows (row-major n x D, already standardised) with their labels in [0, K).
   *
   * @example
   *   bank.update(features, labels);
   */
  update(features: Float32Array | Float64Array, labels: Int32Array | ArrayLike<number>, n = labels.length): void {
    const { dim: d, batchSize, numClasses } = this.config;
    if (features.length < n * d) throw new Error(`Expected ${n} x ${d} features, got ${features.length} values`);
    for (let i = 0; i < n; i++) {
      const c = labels[i];
      if (!Number.isInteger(c) || c < 0 || c >= numClasses) {
        throw new Error(`Row ${i}: label ${c} outside [0, ${numClasses})`);
      }
      const buf = this.buffers[c];
      const at = this.counts[c] * d;
      for (let j = 0; j < d; j++) buf[at + j] = features[i * d + j];
      if (++this.counts[c] === batchSize) {
        this.flows[c].trainStep(buf, batchSize);
        this.counts[c] = 0;
      }
    }
  }

  /**
   * Steps every flow on the rows left in its buffer (fewer than `batchSize`) and empties it.
   *
   * @example
   *   bank.endEpoch();
   */
  endEpoch(): void {
    for (let c = 0; c < this.flows.length; c++) {
      if (this.counts[c] > 0) this.flows[c].trainStep(this.buffers[c], this.counts[c]);
      this.counts[c] = 0;
    }
  }

  /**
   * Per-dimension log-likelihood of every row under every class's flow: n x K, row-major.
   *
   * @example
   *   const L = bank.logProb(features, n);  const lOfRow3UnderClass2 = L[3 * bank.numClasses + 2];
   */
  logProb(features: Float32Array | Float64Array, n: number, chunk = 4096): Float32Array {
    const { dim: d, numClasses: K } = this.config;
    const x32 = features instanceof Float32Array ? features : Float32Array.from(features.subarray(0, n * d));
    const out = new Float32Array(n * K);
    for (let start = 0; start < n; start += chunk) {
      const rows = Math.min(chunk, n - start);
      const t = tf.tidy(() => {
        const x = tf.tensor2d(x32.subarray(start * d, (start + rows) * d), [rows, d]);
        return tf.stack(this.flows.map((f) => f.logProbTensor(x)), 1);
      });
      out.set(t.dataSync() as Float32Array, start * K);
      t.dispose();
    }
    return out;
  }

  /** The full state (copies), for checkpoints. */
  getState(): FlowBankState {
    return {
      config: { ...this.config },
      flows: this.flows.map((f) => f.getState()),
      buffers: this.buffers.map((b, c) => b.slice(0, this.counts[c] * this.config.dim)),
    };
  }

  /**
   * A bank rebuilt from `getState`.
   *
   * @example
   *   const again = FlowBank.fromState(bank.getState());
   */
  static fromState(state: FlowBankState): FlowBank {
    const bank = new FlowBank(state.config);
    const d = state.config.dim;
    state.flows.forEach((s, c) => bank.flows[c].setState(s));
    state.buffers.forEach((b, c) => {
      bank.buffers[c].set(b);
      bank.counts[c] = b.length / d;
    });
    return bank;
  }

  /** Frees every flow's tensors. */
  dispose(): void {
    for (const f of this.flows) f.dispose();
  }
}

/**
 * SimCLR pretraining of the encoder (docs/method.md, step 1): projection head
 * Linear(8w, 8w, no bias) -> ReLU -> Linear(8w, 128, no bias), NT-Xent loss (temperature
 * 0.5, cosine similarity, the 2N-2 other views as negatives), Adam lr 3e-4 without weight
 * decay, over the encoder and the head together.
 */
import * as tf from '@tensorflow/tfjs-core';
import './gradients.js';
import { simclrHeadInitial } from './simclr-head.js';
import type { ResNet } from './resnet.js';

export interface SimclrOptions {
  /** Output dimension of the projection head. Default 128. */
  projDim?: number;
  /** NT-Xent temperature. Default 0.5. */
  temperature?: number;
  /** Adam learning rate. Default 3e-4. */
  lr?: number;
  /** Seed of the head's initialisation. Default 0. */
  seed?: number;
}

/** Bytes one image of a SimCLR step keeps alive on wasm at width 16, 32 px (measured). */
const BYTES_PER_IMAGE_W16 = 10.5e6;
/** The wasm heap stops at 4 GB; leave room for the weights, Adam and fragmentation. */
const WASM_BUDGET = 3.4e9;

/**
 * Estimated peak memory of one SimCLR step (two views of `batch` images): every activation of
 * both views stays alive for the backward pass, ~10 MB per 32-px image at width 16, growing
 * with the width and the pixel count.
 *
 * @example
 *   simclrStepBytes(32, 256, 32);   // ~5.4e9: too much for the 4 GB wasm heap
 */
export function simclrStepBytes(width: number, batch: number, imageSize: number): number {
  return BYTES_PER_IMAGE_W16 * (width / 16) * (imageSize / 32) ** 2 * batch;
}

/**
 * NT-Xent loss of two batches of projections (row i of z1 and of z2 are views of one image).
 *
 * @example
 *   const loss = tf.tidy(() => ntXent(z1, z2, 0.5));
 */
export function ntXent(z1: tf.Tensor2D, z2: tf.Tensor2D, temperature = 0.5): tf.Scalar {
  return tf.tidy(() => {
    const n = z1.shape[0];
    const z = tf.concat([z1, z2], 0);
    const unit = tf.div(z, tf.maximum(tf.norm(z, 'euclidean', 1, true), 1e-12)) as tf.Tensor2D;
    const sim = tf.div(tf.matMul(unit, tf.transpose(unit)), temperature);
    const logits = tf.sub(sim, tf.mul(tf.eye(2 * n), 1e9));
    const targets = Array.from({ length: 2 * n }, (_, i) => (i < n ? i + n : i - n));
    const onehot = tf.oneHot(tf.tensor1d(targets, 'int32'), 2 * n);
    const picked = tf.sum(tf.mul(logits, onehot), 1);
    return tf.mean(tf.sub(tf.logSumExp(logits, 1), picked)) as tf.Scalar;
  });
}

/**
 * Trains an encoder and a projection head with NT-Xent and Adam. On wasm a step refuses a
 * batch that would not fit the 4 GB heap (see `simclrStepBytes`) with a clear error, rather
 * than letting the wasm module abort.
 *
 * @example
 *   const net = new ResNet({ width: 16 });
 *   const trainer = new SimclrTrainer(net, { seed: 1 });
 *   const v1 = augment(px, n, 32, rng), v2 = augment(px, n, 32, rng);
 *   const loss = trainer.step(v1, v2);
 *   v1.dispose(); v2.dispose();
 */
export class SimclrTrainer {
  readonly encoder: ResNet;
  readonly options: Required<SimclrOptions>;
  readonly optimizer: tf.AdamOptimizer;
  private readonly head: tf.Variable[];

  constructor(encoder: ResNet, options: SimclrOptions = {}) {
    this.encoder = encoder;
    this.options = {
      projDim: options.projDim ?? 128,
      temperature: options.temperature ?? 0.5,
      lr: options.lr ?? 3e-4,
      seed: options.seed ?? 0,
    };
    const d = encoder.featureDim;
    this.head = simclrHeadInitial(d, this.options.projDim, this.options.seed).map((values, i) => {
      const init = tf.tensor2d(values, [d, i === 0 ? d : this.options.projDim]);
      const v = tf.variable(init, true);
      init.dispose();
      return v;
    });
    this.optimizer = tf.train.adam(this.options.lr, 0.9, 0.999, 1e-8);
  }

  /** Projection z of encoder features h. */
  project(h: tf.Tensor2D): tf.Tensor2D {
    return tf.matMul(tf.relu(tf.matMul(h, this.head[0] as tf.Tensor2D)), this.head[1] as tf.Tensor2D);
  }

  /** The head's variables, [W1 (8w x 8w), W2 (8w x projDim)]. */
  headVariables(): tf.Variable[] {
    return this.head;
  }

  /** Every trained variable: the encoder's, then the head's. */
  trainableVariables(): tf.Variable[] {
    return [...this.encoder.trainableVariables(), ...this.head];
  }

  /**
   * One Adam step on the NT-Xent loss of two augmented views (normalised NHWC tensors, same
   * batch size; the caller keeps ownership). Returns the loss before the step.
   *
   * @example
   *   const loss = trainer.step(view1, view2);
   */
  step(view1: tf.Tensor4D, view2: tf.Tensor4D): number {
    if (tf.getBackend() === 'wasm') {
      const [batch, size] = view1.shape;
      const need = simclrStepBytes(this.encoder.width, batch, size);
      if (need > WASM_BUDGET) {
        const fits = Math.floor(WASM_BUDGET / simclrStepBytes(this.encoder.width, 1, size));
        throw new Error(
          `A SimCLR step of batch ${batch} at width ${this.encoder.width} (${size} px) needs ~${(need / 1e9).toFixed(1)} GB, ` +
            `more than the wasm backend's 4 GB heap holds: use a batch of at most ${fits}`,
        );
      }
    }
    const cost = this.optimizer.minimize(
      () => {
        const z1 = this.project(this.encoder.apply(view1, true));
        const z2 = this.project(this.encoder.apply(view2, true));
        return ntXent(z1, z2, this.options.temperature);
      },
      true,
      this.trainableVariables(),
    );
    const loss = cost!.dataSync()[0];
    cost!.dispose();
    return loss;
  }

  /** Frees the head and the optimiser state (not the encoder). */
  dispose(): void {
    for (const v of this.head) v.dispose();
    this.optimizer.dispose();
  }
}

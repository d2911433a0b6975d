/**
 * ResNet-18 encoder on raw TensorFlow.js ops and our own variables (no tf.layers), so the
 * gradients, BatchNorm statistics and save/load are under our control.
 *
 * `stem: 'cifar'`: 3x3 conv stride 1, no max-pool (the SimCLR CIFAR variant the paper uses).
 * `stem: 'imagenet'`: 7x7 conv stride 2 + 3x3 max-pool stride 2, for 224-px images.
 * Then 4 stages x 2 basic blocks of widths w, 2w, 4w, 8w (1x1 conv + BN shortcut where the
 * shape changes), global average pool -> h of dimension 8w. Padding follows PyTorch
 * (symmetric, explicit), so weights converted from the reference would give the same output.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BN_EPS, BN_MOMENTUM, resnetInitialVariables, resnetLayout, type ConvBn, type ResNetOptions, type Stem } from './resnet-layout.js';
import { normalize } from './normalize.js';
import { batchNormTrain } from './batch-norm.js';
import { runPlan, type EvalPlan, type PlanOp } from './eval-plan.js';

export type { Stem, ResNetOptions } from './resnet-layout.js';
export { BN_MOMENTUM, BN_EPS } from './resnet-layout.js';

interface BatchNorm {
  gamma: tf.Variable;
  beta: tf.Variable;
  mean: tf.Variable;
  variance: tf.Variable;
}

interface Block {
  conv1: tf.Variable;
  bn1: BatchNorm;
  conv2: tf.Variable;
  bn2: BatchNorm;
  stride: number;
  shortcut?: { conv: tf.Variable; bn: BatchNorm };
}

/**
 * A ResNet-18 feature extractor: NHWC float images in, h (8 x width) out.
 *
 * @example
 *   const net = new ResNet({ width: 32, imageSize: 32, seed: 1 });
 *   const h = tf.tidy(() => net.apply(x, false));        // x: [n, 32, 32, 3] normalised
 *   const feats = net.embedSync(pixels, n);               // uint8 NHWC in, n x 256 floats out
 */
export class ResNet {
  readonly width: number;
  readonly imageSize: number;
  readonly stem: Stem;
  readonly seed: number;
  readonly featureDim: number;
  private readonly stemConv: tf.Variable;
  private readonly stemBn: BatchNorm;
  private readonly blocks: Block[] = [];
  private readonly named = new Map<string, tf.Variable>();

  constructor(options: ResNetOptions = {}) {
    const layout = resnetLayout(options);
    ({ width: this.width, imageSize: this.imageSize, stem: this.stem, seed: this.seed, featureDim: this.featureDim } = layout);
    for (const v of resnetInitialVariables(layout)) {
      const init = tf.tensor(v.values, v.shape);
      this.named.set(v.name, tf.variable(init, v.trainable));
      init.dispose();
    }
    const convBn = (c: ConvBn) => ({ conv: this.named.get(c.conv)!, bn: this.batchNorm(c.bn) });
    ({ conv: this.stemConv, bn: this.stemBn } = convBn(layout.stemConv));
    for (const b of layout.blocks) {
      const c1 = convBn(b.conv1);
      const c2 = convBn(b.conv2);
      this.blocks.push({ conv1: c1.conv, bn1: c1.bn, conv2: c2.conv, bn2: c2.bn, stride: b.conv1.stride, shortcut: b.shortcut ? convBn(b.shortcut) : undefined });
    }
  }

  /**
   * The encoder output h for a batch of normalised NHWC images. `training` uses batch
   * statistics in BatchNorm and updates the running averages; otherwise the running
   * averages are used. Call inside `tf.tidy` (or `tf.variableGrads`).
   *
   * @example
   *   const h = tf.tidy(() => net.apply(x, false));
   */
  apply(x: tf.Tensor4D, training: boolean): tf.Tensor2D {
    let y = this.convBn(x, this.stemConv, this.stemBn, this.stem === 'cifar' ? 1 : 2, training, true);
    if (this.stem === 'imagenet') {
      y = tf.maxPool(tf.pad(y, [[0, 0], [1, 1], [1, 1], [0, 0]], -1e30) as tf.Tensor4D, 3, 2, 'valid');
    }
    for (const b of this.blocks) {
      const out = this.convBn(y, b.conv1, b.bn1, b.stride, training, true);
      const res = this.convBn(out, b.conv2, b.bn2, 1, training, false);
      const short = b.shortcut ? this.convBn(y, b.shortcut.conv, b.shortcut.bn, b.stride, training, false) : y;
      y = tf.relu(tf.add(res, short)) as tf.Tensor4D;
    }
    return tf.mean(y, [1, 2]) as tf.Tensor2D;
  }

  /** The variables the optimiser trains (conv filters, BatchNorm scale and shift). */
  trainableVariables(): tf.Variable[] {
    return [...this.named.values()].filter((v) => v.trainable);
  }

  /** Every variable by a stable name (trainable ones and BatchNorm running statistics). */
  variables(): Map<string, tf.Variable> {
    return this.named;
  }

  /**
   * Embeddings h of `n` uint8 NHWC RGB images (size x size x 3 each, back to back):
   * normalised with the CIFAR statistics and run in eval mode, `batch` images at a time.
   *
   * @example
   *   const h = net.embedSync(pixels, 100);   // Float32Array 100 x featureDim
   */
  embedSync(pixels: Uint8Array, n: number, size = this.imageSize, batch = 256): Float32Array {
    const per = size * size * 3;
    if (pixels.length < n * per) throw new Error(`Expected ${n} images of ${size}x${size}x3 bytes, got ${pixels.length} bytes`);
    const out = new Float32Array(n * this.featureDim);
    const { plan, weights } = this.foldedPlan();
    try {
      for (let start = 0; start < n; start += batch) {
        const m = Math.min(batch, n - start);
        const h = tf.tidy(() => runPlan(tf, plan, weights, normalize(pixels.subarray(start * per, (start + m) * per), m, size)));
        out.set(h.dataSync() as Float32Array, start * this.featureDim);
        h.dispose();
      }
    } finally {
      tf.dispose(weights);
    }
    return out;
  }

  /**
   * The inference program of the current weights (BatchNorm folded into the convolutions),
   * with its arrays copied out: what `EmbedPool` ships to its worker threads.
   *
   * @example
   *   const plan = net.evalPlan();
   */
  evalPlan(): EvalPlan {
    const { plan, weights } = this.foldedPlan();
    const arrays = weights.map((w) => w.dataSync() as Float32Array);
    const shapes = weights.map((w) => w.shape);
    tf.dispose(weights);
    return { ...plan, arrays, shapes };
  }

  private foldedPlan(): { plan: Pick<EvalPlan, 'ops' | 'result'>; weights: tf.Tensor[] } {
    const ops: PlanOp[] = [];
    const weights: tf.Tensor[] = [];
    let next = 1;
    const conv = (input: number, filter: tf.Variable, bn: BatchNorm, stride: number, relu: boolean): number => {
      const [f, b] = tf.tidy(() => {
        const scale = tf.mul(tf.rsqrt(tf.add(bn.variance, BN_EPS)), bn.gamma);
        return [tf.mul(filter, scale), tf.sub(bn.beta, tf.mul(bn.mean, scale))];
      });
      weights.push(f, b);
      const output = next++;
      ops.push({ op: 'conv', input, output, filter: weights.length - 2, bias: weights.length - 1, stride, pad: (filter.shape[0] - 1) >> 1, relu });
      return output;
    };
    let y = conv(0, this.stemConv, this.stemBn, this.stem === 'cifar' ? 1 : 2, true);
    if (this.stem === 'imagenet') {
      ops.push({ op: 'maxpool', input: y, output: next });
      y = next++;
    }
    for (const b of this.blocks) {
      const out = conv(y, b.conv1, b.bn1, b.stride, true);
      const res = conv(out, b.conv2, b.bn2, 1, false);
      const short = b.shortcut ? conv(y, b.shortcut.conv, b.shortcut.bn, b.stride, false) : y;
      ops.push({ op: 'addRelu', a: res, b: short, output: next });
      y = next++;
    }
    ops.push({ op: 'mean', input: y, output: next });
    return { plan: { ops, result: next }, weights };
  }

  /** `embedSync` behind the `ImageEncoder` interface of the embed stage. */
  async embed(pixels: Uint8Array, n: number): Promise<Float32Array> {
    return this.embedSync(pixels, n);
  }

  /** Frees every variable. */
  dispose(): void {
    for (const v of this.named.values()) v.dispose();
    this.named.clear();
  }

  /**
   * conv -> BatchNorm (-> ReLU). Training: the batch-statistics op of `batch-norm.ts`, and
   * the running averages move by BN_MOMENTUM (variance unbiased, as PyTorch). Eval: the
   * BatchNorm is folded into the filter and a bias of one fused convolution.
   */
  private convBn(x: tf.Tensor4D, filter: tf.Variable, bn: BatchNorm, stride: number, training: boolean, relu: boolean): tf.Tensor4D {
    const k = filter.shape[0];
    const p = (k - 1) >> 1;
    const pad: tf.backend_util.ExplicitPadding | 'valid' = p === 0 ? 'valid' : [[0, 0], [p, p], [p, p], [0, 0]];
    if (!training) {
      const scale = tf.mul(tf.rsqrt(tf.add(bn.variance, BN_EPS)), bn.gamma);
      const folded = tf.mul(filter, scale) as tf.Tensor4D;
      const bias = tf.sub(bn.beta, tf.mul(bn.mean, scale));
      return tf.fused.conv2d({ x, filter: folded, strides: stride, pad, bias, activation: relu ? 'relu' : 'linear' });
    }
    const conv = tf.conv2d(x, filter as tf.Tensor4D, stride, pad);
    const { y, mean, variance } = batchNormTrain(conv, bn.gamma, bn.beta, relu, BN_EPS);
    const count = conv.shape[0] * conv.shape[1] * conv.shape[2];
    tf.tidy(() => {
      const unbiased = tf.mul(variance, count / Math.max(1, count - 1));
      bn.mean.assign(tf.add(tf.mul(bn.mean, 1 - BN_MOMENTUM), tf.mul(mean, BN_MOMENTUM)));
      bn.variance.assign(tf.add(tf.mul(bn.variance, 1 - BN_MOMENTUM), tf.mul(unbiased, BN_MOMENTUM)));
    });
    mean.dispose();
    variance.dispose();
    return y;
  }

  private batchNorm(name: string): BatchNorm {
    const get = (k: string) => this.named.get(`${name}.${k}`)!;
    return { gamma: get('gamma'), beta: get('beta'), mean: get('running_mean'), variance: get('running_var') };
  }
}

/**
 * The final classifier of GSSD (docs/method.md, step 7): a ResNet-18 (`ResNet`, any width) and a
 * linear head to K classes, trained with softmax cross-entropy and SGD with momentum 0.9 and
 * weight decay 5e-4 on every parameter as in the reference release (PyTorch semantics:
 * g = grad + wd x w; buf = m x buf + g; w -= lr x buf), the learning rate given per step
 * (see `stepLr` for the paper's schedule). Its whole state
 * (weights, BatchNorm statistics, momentum buffers) saves to a model directory in the format
 * of `save.ts` (kind `classifier`) and loads back bit-identical.
 */
import * as tf from '@tensorflow/tfjs-core';
import './gradients.js';
import { classifierHeadInitial } from './classifier-head.js';
import { normalize } from './normalize.js';
import { ResNet, type Stem } from './resnet.js';
import { need, readModel, writeModel } from './save.js';

export interface ClassifierOptions {
  /** Number of classes K. */
  numClasses: number;
  /** ResNet-18 width (64 in the paper). Default 64. */
  width?: number;
  /** Side of the square input images. Default 32. */
  imageSize?: number;
  /** Stem variant. Default: `ResNet`'s choice for the image size. */
  stem?: Stem;
  /** Seed of the initialisation. Default 0. */
  seed?: number;
  /** SGD momentum. Default 0.9. */
  momentum?: number;
  /** L2 weight decay. Default 5e-4. */
  weightDecay?: number;
  /**
   * Which parameters the decay applies to: `all` (as the reference release:
   * `torch.optim.SGD(model.parameters(), weight_decay=5e-4)`, BatchNorm and bias included) or
   * `weights` (conv filters and the head matrix only). Default `all`.
   */
  decay?: 'weights' | 'all';
}

/** Result of one training step. */
export interface StepResult {
  /** Mean cross-entropy of the batch, before the update. */
  loss: number;
  /** Rows of the batch whose training-mode prediction was right, before the update. */
  correct: number;
}

/**
 * The paper's step schedule: `base`, x `gamma` at each milestone (fractions of the epochs,
 * default 50% and 75%: for 200 epochs, x0.1 at 100 and 150). A milestone is never before
 * epoch 1.
 *
 * @example
 *   stepLr(120, 200, 0.1);   // 0.01
 */
export function stepLr(epoch: number, epochs: number, base: number, milestones: readonly number[] = [0.5, 0.75], gamma = 0.1): number {
  let k = 0;
  for (const f of milestones) if (epoch >= Math.max(1, Math.floor(f * epochs))) k++;
  // rounded so that 0.1 x 0.1 is 0.01, not 0.010000000000000002
  return Number((base * gamma ** k).toPrecision(12));
}

/**
 * ResNet-18 + linear head, trained by SGD with momentum and weight decay.
 *
 * @example
 *   const clf = new Classifier({ numClasses: 10, width: 16, seed: 1 });
 *   const x = cropFlip(pixels, n, 32, rng);
 *   const { loss } = clf.step(x, labels, stepLr(epoch, 200, 0.1));
 *   x.dispose();
 *   const pred = clf.predict(testPixels, m);   // Int32Array of class ids
 */
export class Classifier {
  readonly encoder: ResNet;
  readonly options: Required<Omit<ClassifierOptions, 'stem'>> & { stem: Stem };
  private readonly headW: tf.Variable;
  private readonly headB: tf.Variable;
  private readonly buffers = new Map<string, tf.Variable>();
  private readonly decayed = new Set<string>();

  constructor(options: ClassifierOptions) {
    const k = options.numClasses;
    if (!Number.isInteger(k) || k < 2) throw new Error(`Expected \`numClasses\` to be an integer from 2 and up, got \`${k}\``);
    const seed = options.seed ?? 0;
    this.encoder = new ResNet({ width: options.width ?? 64, imageSize: options.imageSize ?? 32, stem: options.stem, seed });
    this.options = {
      numClasses: k,
      width: this.encoder.width,
      imageSize: this.encoder.imageSize,
      stem: this.encoder.stem,
      seed,
      momentum: options.momentum ?? 0.9,
      weightDecay: options.weightDecay ?? 5e-4,
      decay: options.decay ?? 'all',
    };
    const d = this.encoder.featureDim;
    const head = classifierHeadInitial(d, k, seed);
    const w = tf.tensor2d(head.weight, [d, k]);
    const b = tf.tensor1d(head.bias);
    this.headW = tf.variable(w, true);
    this.headB = tf.variable(b, true);
    tf.dispose([w, b]);
    for (const [name, v] of this.trainable()) {
      this.buffers.set(name, tf.variable(tf.zerosLike(v), false));
      const isWeight = name === 'head/weight' || (v.rank === 4 && name.startsWith('encoder/'));
      if (this.options.decay === 'all' || isWeight) this.decayed.add(name);
    }
  }

  /** Logits [n, K] of normalised NHWC images. Call inside `tf.tidy` (or a gradient function). */
  logits(x: tf.Tensor4D, training: boolean): tf.Tensor2D {
    return tf.add(tf.matMul(this.encoder.apply(x, training), this.headW as tf.Tensor2D), this.headB) as tf.Tensor2D;
  }

  /**
   * One SGD step on the cross-entropy of a normalised batch (the caller keeps `x`) with the
   * given labels and learning rate. Updates the BatchNorm running statistics too.
   *
   * @example
   *   const { loss, correct } = clf.step(x, labels, 0.1);
   */
  step(x: tf.Tensor4D, labels: ArrayLike<number>, lr: number): StepResult {
    const n = x.shape[0];
    if (labels.length !== n) throw new Error(`Expected ${n} labels, got ${labels.length}`);
    const named = [...this.trainable()];
    const vars = named.map(([, v]) => v);
    const y = tf.tensor1d(Int32Array.from(labels), 'int32');
    let predicted: tf.Tensor | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const logits = this.logits(x, true);
      predicted = tf.keep(tf.argMax(logits, 1));
      return crossEntropy(logits, y, this.options.numClasses);
    }, vars);
    const { momentum, weightDecay } = this.options;
    tf.tidy(() => {
      for (const [name, v] of named) {
        let g: tf.Tensor = grads[v.name];
        if (weightDecay > 0 && this.decayed.has(name)) g = tf.add(g, tf.mul(v, weightDecay));
        const buf = this.buffers.get(name)!;
        buf.assign(tf.add(tf.mul(buf, momentum), g));
        v.assign(tf.sub(v, tf.mul(buf, lr)));
      }
    });
    const loss = value.dataSync()[0];
    const pred = predicted!.dataSync();
    let correct = 0;
    for (let i = 0; i < n; i++) if (pred[i] === labels[i]) correct++;
    tf.dispose([value, y, predicted!, ...Object.values(grads)]);
    return { loss, correct };
  }

  /**
   * Predicted classes of `n` uint8 NHWC RGB images (imageSize square, back to back): CIFAR
   * normalisation, eval mode (BatchNorm running statistics), `batch` images at a time.
   *
   * @example
   *   const pred = clf.predict(pixels, 500);   // Int32Array(500)
   */
  predict(pixels: Uint8Array, n: number, batch = 256): Int32Array {
    const size = this.options.imageSize;
    const per = size * size * 3;
    if (pixels.length < n * per) throw new Error(`Expected ${n} images of ${size}x${size}x3 bytes, got ${pixels.length} bytes`);
    const out = new Int32Array(n);
    for (let start = 0; start < n; start += batch) {
      const m = Math.min(batch, n - start);
      const p = tf.tidy(() => tf.argMax(this.logits(normalize(pixels.subarray(start * per, (start + m) * per), m, size), false), 1));
      out.set(p.dataSync() as Int32Array, start);
      p.dispose();
    }
    return out;
  }

  /** Sets every momentum buffer to zero (a fresh optimiser, e.g. before fine-tuning). */
  resetMomentum(): void {
    for (const b of this.buffers.values()) tf.tidy(() => b.assign(tf.zerosLike(b)));
  }

  /** Every variable of the model and the optimiser, by a stable name. */
  stateVariables(): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    for (const [name, v] of this.encoder.variables()) out.set(`encoder/${name}`, v);
    out.set('head/weight', this.headW);
    out.set('head/bias', this.headB);
    for (const [name, b] of this.buffers) out.set(`momentum/${name}`, b);
    return out;
  }

  /** Frees every variable (encoder, head, momentum buffers). */
  dispose(): void {
    this.encoder.dispose();
    tf.dispose([this.headW, this.headB, ...this.buffers.values()]);
    this.buffers.clear();
  }

  private *trainable(): Generator<[string, tf.Variable]> {
    for (const [name, v] of this.encoder.variables()) if (v.trainable) yield [`encoder/${name}`, v];
    yield ['head/weight', this.headW];
    yield ['head/bias', this.headB];
  }
}

/** Mean softmax cross-entropy of logits [n, K] against int32 labels [n]. */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, numClasses: number): tf.Scalar {
  return tf.tidy(() => {
    const picked = tf.sum(tf.mul(logits, tf.oneHot(labels, numClasses)), 1);
    return tf.mean(tf.sub(tf.logSumExp(logits, 1), picked)) as tf.Scalar;
  });
}

/**
 * Saves a classifier to `dir` in the model-directory format of `save.ts` (kind `classifier`):
 * weights, BatchNorm statistics and momentum buffers. `extra` is any JSON (e.g. label names).
 *
 * @example
 *   await saveClassifier(clf, 'out/model', { trainedRows: 49000 });
 */
export async function saveClassifier(clf: Classifier, dir: string, extra?: unknown): Promise<void> {
  const arrays = [...clf.stateVariables()].map(([name, v]) => ({ name, values: v.dataSync() as Float32Array, shape: v.shape }));
  await writeModel(dir, 'classifier', clf.options, null, arrays, extra);
}

/**
 * Loads a classifier saved by `saveClassifier`; training continues exactly where it stopped.
 *
 * @example
 *   const clf = await loadClassifier('out/model');
 *   const { extra } = await readManifest('out/model');
 */
export async function loadClassifier(dir: string): Promise<Classifier> {
  const { manifest, arrays } = await readModel(dir, 'classifier');
  const clf = new Classifier(manifest.config as ClassifierOptions);
  for (const [name, v] of clf.stateVariables()) {
    const values = need(arrays, name);
    if (values.length !== v.size) throw new Error(`${dir}: array ${name} holds ${values.length} values, expected ${v.size}`);
    tf.tidy(() => v.assign(tf.tensor(values, v.shape)));
  }
  return clf;
}

import * as tf from '@tensorflow/tfjs-core';
import { CIFAR_MEAN, CIFAR_STD } from '../stages/augment.js';
import { crossEntropy, type Classifier } from '../models/classifier.js';

/** Settings of the L-infinity PGD perturbation, on the 0..255 pixel scale. */
export interface PgdOptions {
  /** Largest change of any pixel value. Default 8 (8/255, Turner et al.'s smaller budget). */
  eps?: number;
  /** Step per iteration. Default 2. */
  step?: number;
  /** Iterations. Default 10. */
  steps?: number;
}

/**
 * Untargeted projected gradient ascent (Madry et al., 2018) on the cross-entropy of `clf` for
 * the rows' own `labels`: n uint8 HWC images move by `step` x sign(gradient) per iteration,
 * kept within `eps` of the original and in [0, 255], in eval mode (BatchNorm running
 * statistics), with no random start, so the result is deterministic. What the Label-Consistent
 * attack does to its target-class rows before stamping the trigger: the images become hard to
 * classify from their content, so a model trained on them leans on the trigger.
 *
 * @example
 *   const hard = pgdPerturb(clf, pixels, n, 32, labels); // Uint8Array, same layout
 */
export function pgdPerturb(clf: Classifier, pixels: Uint8Array, n: number, size: number, labels: ArrayLike<number>, options: PgdOptions = {}): Uint8Array {
  const eps = options.eps ?? 8;
  const step = options.step ?? 2;
  const steps = options.steps ?? 10;
  const K = clf.options.numClasses;
  const result = tf.tidy(() => {
    const x0 = tf.tensor4d(Float32Array.from(pixels.subarray(0, n * size * size * 3)), [n, size, size, 3]);
    const y = tf.tensor1d(Int32Array.from(labels), 'int32');
    const mean = tf.tensor1d(CIFAR_MEAN.map((m) => m * 255));
    const std = tf.tensor1d(CIFAR_STD.map((s) => s * 255));
    const loss = (x: tf.Tensor) => crossEntropy(clf.logits(tf.div(tf.sub(x, mean), std) as tf.Tensor4D, false), y, K);
    const grad = tf.grad(loss);
    let x: tf.Tensor = x0;
    for (let t = 0; t < steps; t++) {
      const g = grad(x);
      const next = tf.clipByValue(tf.minimum(tf.maximum(tf.add(x, tf.mul(tf.sign(g), step)), tf.sub(x0, eps)), tf.add(x0, eps)), 0, 255);
      x = tf.keep(next);
    }
    return tf.round(x);
  });
  const out = Uint8Array.from(result.dataSync());
  result.dispose();
  return out;
}

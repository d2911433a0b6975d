/**
 * An inference-only program for a ResNet: BatchNorm folded into each convolution's filter and
 * bias, as a flat list of ops over numbered slots. `runPlan` interprets it with whatever
 * TensorFlow.js namespace it is given and imports nothing, so the very same function runs in
 * this thread and (as source text) in the worker threads of `EmbedPool`: both give identical
 * numbers.
 */
import type * as tfTypes from '@tensorflow/tfjs-core';

export type PlanOp =
  | { op: 'conv'; input: number; output: number; filter: number; bias: number; stride: number; pad: number; relu: boolean }
  | { op: 'maxpool'; input: number; output: number }
  | { op: 'addRelu'; a: number; b: number; output: number }
  | { op: 'mean'; input: number; output: number };

/** The ops, the slot holding the result, and the arrays (filters, biases) they index. */
export interface EvalPlan {
  ops: PlanOp[];
  result: number;
  arrays: Float32Array[];
  shapes: number[][];
}

/**
 * Runs a plan on a normalised NHWC batch (slot 0) with the plan's arrays already uploaded as
 * `weights`; returns the [n, featureDim] features. Self-contained (see the file comment).
 *
 * @example
 *   const h = tf.tidy(() => runPlan(tf, plan, weights, x));
 */
export function runPlan(tf: typeof tfTypes, plan: Pick<EvalPlan, 'ops' | 'result'>, weights: tfTypes.Tensor[], x: tfTypes.Tensor4D): tfTypes.Tensor2D {
  const slots: tfTypes.Tensor[] = [x];
  for (const o of plan.ops) {
    if (o.op === 'conv') {
      const p = o.pad;
      slots[o.output] = tf.fused.conv2d({
        x: slots[o.input] as tfTypes.Tensor4D,
        filter: weights[o.filter] as tfTypes.Tensor4D,
        strides: o.stride,
        pad: p === 0 ? 'valid' : [[0, 0], [p, p], [p, p], [0, 0]],
        bias: weights[o.bias],
        activation: o.relu ? 'relu' : 'linear',
      });
    } else if (o.op === 'maxpool') {
      const padded = tf.pad(slots[o.input], [[0, 0], [1, 1], [1, 1], [0, 0]], -1e30) as tfTypes.Tensor4D;
      slots[o.output] = tf.maxPool(padded, 3, 2, 'valid');
    } else if (o.op === 'addRelu') {
      slots[o.output] = tf.relu(tf.add(slots[o.a], slots[o.b]));
    } else {
      slots[o.output] = tf.mean(slots[o.input], [1, 2]);
    }
  }
  return slots[plan.result] as tfTypes.Tensor2D;
}

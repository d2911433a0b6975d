/**
 * Optimiser updates as ONNX nodes, so a training step is one graph: weights and optimiser
 * state in, new weights and state out.
 *
 * - Adam as TensorFlow.js computes it (and PyTorch, epsilon outside the square root):
 *   m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; w -= lr / (1 - b1^t) * m / (sqrt(v / (1 - b2^t)) + eps).
 *   The step-dependent factors come in as scalar inputs (`adamScalars`).
 * - SGD with momentum and L2 weight decay, PyTorch semantics: g += wd w; buf = mu buf + g; w -= lr buf.
 */
import type { OnnxGraph, Value } from './onnx-graph.js';

/** Adam hyper-parameters (TensorFlow.js defaults: 0.9, 0.999, 1e-8). */
export interface AdamSettings {
  beta1: number;
  beta2: number;
  epsilon: number;
}

/**
 * One Adam update. `lrCorrected` = lr / (1 - b1^t) and `secondCorrection` = 1 / (1 - b2^t),
 * scalar graph inputs.
 *
 * @example
 *   const { w: w2, m: m2, v: v2 } = adamUpdate(g, w, grad, m, v, lrC, c2, { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });
 */
export function adamUpdate(g: OnnxGraph, w: Value, grad: Value, m: Value, v: Value, lrCorrected: Value, secondCorrection: Value, s: AdamSettings): { w: Value; m: Value; v: Value } {
  const m2 = g.binary('Add', g.binary('Mul', m, g.constant([s.beta1])), g.binary('Mul', grad, g.constant([1 - s.beta1])));
  const v2 = g.binary('Add', g.binary('Mul', v, g.constant([s.beta2])), g.binary('Mul', g.binary('Mul', grad, grad), g.constant([1 - s.beta2])));
  const denom = g.binary('Add', g.op('Sqrt', [g.binary('Mul', v2, secondCorrection)], v2.shape), g.constant([s.epsilon]));
  const w2 = g.binary('Sub', w, g.binary('Mul', g.binary('Div', m2, denom), lrCorrected));
  return { w: w2, m: m2, v: v2 };
}

/**
 * The scalar inputs of an Adam step `t` (1-based) at learning rate `lr`.
 *
 * @example
 *   const { lrCorrected, secondCorrection } = adamScalars(1e-3, 1, settings);
 */
export function adamScalars(lr: number, t: number, s: AdamSettings): { lrCorrected: number; secondCorrection: number } {
  return { lrCorrected: lr / (1 - s.beta1 ** t), secondCorrection: 1 / (1 - s.beta2 ** t) };
}

/**
 * One SGD step with momentum and (when `weightDecay` > 0) L2 weight decay; `lr` a scalar input.
 *
 * @example
 *   const { w: w2, buf: b2 } = sgdUpdate(g, w, grad, buf, lr, 0.9, 5e-4);
 */
export function sgdUpdate(g: OnnxGraph, w: Value, grad: Value, buf: Value, lr: Value, momentum: number, weightDecay: number): { w: Value; buf: Value } {
  const decayed = weightDecay > 0 ? g.binary('Add', grad, g.binary('Mul', w, g.constant([weightDecay]))) : grad;
  const buf2 = g.binary('Add', g.binary('Mul', buf, g.constant([momentum])), decayed);
  return { w: g.binary('Sub', w, g.binary('Mul', buf2, lr)), buf: buf2 };
}

/**
 * Running BatchNorm statistics after the batch statistics of `groups` groups, applied in
 * order (view 1 then view 2, as the TensorFlow.js trainer): r = (1 - m) r + m s, the variance
 * unbiased by count / (count - 1).
 *
 * @example
 *   const mean2 = runningUpdate(g, mean, stats.mean, 2, 0.1, 1);
 */
export function runningUpdate(g: OnnxGraph, running: Value, batch: Value, groups: number, momentum: number, unbias: number): Value {
  const [, C] = batch.shape;
  let r = running;
  for (let i = 0; i < groups; i++) {
    let s = g.reshape(g.op('Gather', [batch, g.ints([i])], [1, C], { axis: 0 }), [C]);
    if (unbias !== 1) s = g.binary('Mul', s, g.constant([unbias]));
    r = g.binary('Add', g.binary('Mul', r, g.constant([1 - momentum])), g.binary('Mul', s, g.constant([momentum])));
  }
  return r;
}

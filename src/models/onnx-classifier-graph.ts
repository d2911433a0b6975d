/**
 * The final classifier's training step (docs/method.md, step 7) as one ONNX graph: a ResNet-18 in
 * training mode (BatchNorm over the whole batch), a linear head to K classes, mean softmax
 * cross-entropy against one-hot labels, then SGD with momentum and L2 weight decay (PyTorch
 * semantics) on every trained variable, as `Classifier.step` on TensorFlow.js.
 *
 * Inputs: `images` (normalised NHWC floats [n, S, S, 3]), `onehot` [n, K], `lr` [], then the
 * state: `param/NAME`, `momentum/NAME`, `stat/NAME` (`StepGraph.state`). Outputs: `loss`,
 * `logits` [n, K], and `new/NAME` for the state.
 */
import { OnnxGraph, type Value } from './onnx-graph.js';
import { Tape, addBias, matmul, softmaxCrossEntropy } from './onnx-autodiff.js';
import { runningUpdate, sgdUpdate } from './onnx-optimizer.js';
import { resnetForward, trainableShapes } from './onnx-resnet-graph.js';
import { BN_MOMENTUM, convBns, type ResNetLayout } from './resnet-layout.js';
import type { StepGraph } from './onnx-simclr-graph.js';

/** The optimiser settings of the step. */
export interface ClassifierGraphOptions {
  numClasses: number;
  momentum: number;
  weightDecay: number;
  /** `all`: decay every variable (the reference release); `weights`: filters and the head matrix only. */
  decay: 'all' | 'weights';
}

/**
 * The trained variables of a classifier in gssd's order, with graph shapes: the encoder's
 * (`encoder/` + name), then `head/weight` [d, K] and `head/bias` [K].
 *
 * @example
 *   classifierVariables(layout, 10).at(-1);   // { name: 'head/bias', shape: [10] }
 */
export function classifierVariables(layout: ResNetLayout, numClasses: number): { name: string; shape: number[] }[] {
  return [
    ...trainableShapes(layout).map((p) => ({ name: `encoder/${p.name}`, shape: p.shape })),
    { name: 'head/weight', shape: [layout.featureDim, numClasses] },
    { name: 'head/bias', shape: [numClasses] },
  ];
}

/**
 * The classifier's step graph for batches of `n` images.
 *
 * @example
 *   const { bytes, state } = classifierStepGraph(resnetLayout({ width: 16 }), 128, { numClasses: 10, momentum: 0.9, weightDecay: 5e-4, decay: 'all' });
 */
export function classifierStepGraph(layout: ResNetLayout, n: number, o: ClassifierGraphOptions): StepGraph {
  const g = new OnnxGraph();
  const t = new Tape(g);
  const S = layout.imageSize;
  const K = o.numClasses;
  const images = g.input('images', [n, S, S, 3]);
  const onehot = g.input('onehot', [n, K]);
  const lr = g.input('lr', []);
  const vars = classifierVariables(layout, K);
  const params = new Map<string, Value>();
  for (const v of vars) params.set(v.name, t.param(g.input(`param/${v.name}`, v.shape)));
  const { h, stats } = resnetForward(t, layout, g.transpose(images, [0, 3, 1, 2]), (name) => params.get(`encoder/${name}`)!, 1);
  const logits = addBias(t, matmul(t, h, params.get('head/weight')!), params.get('head/bias')!);
  const loss = softmaxCrossEntropy(t, logits, onehot);
  const grads = t.backward(loss, [...params.values()]);
  g.output('loss', loss);
  g.output('logits', logits);

  const state: StepGraph['state'] = [];
  const carry = (name: string, shape: number[], next: Value) => {
    g.output(`new/${name}`, next);
    state.push({ name, shape });
  };
  for (const v of vars) {
    const w = params.get(v.name)!;
    const decayed = o.decay === 'all' || v.name === 'head/weight' || v.shape.length === 4;
    const buf = g.input(`momentum/${v.name}`, v.shape);
    const next = sgdUpdate(g, w, grads.get(w.name)!, buf, lr, o.momentum, decayed ? o.weightDecay : 0);
    carry(`param/${v.name}`, v.shape, next.w);
    carry(`momentum/${v.name}`, v.shape, next.buf);
  }
  const byBn = new Map(stats.map((s) => [s.bn, s.stats]));
  for (const c of convBns(layout)) {
    const s = byBn.get(c.bn)!;
    const mean = g.input(`stat/encoder/${c.bn}.running_mean`, [c.outC]);
    const variance = g.input(`stat/encoder/${c.bn}.running_var`, [c.outC]);
    carry(`stat/encoder/${c.bn}.running_mean`, [c.outC], runningUpdate(g, mean, s.mean, 1, BN_MOMENTUM, 1));
    carry(`stat/encoder/${c.bn}.running_var`, [c.outC], runningUpdate(g, variance, s.variance, 1, BN_MOMENTUM, s.count / Math.max(1, s.count - 1)));
  }
  return { bytes: g.encode(`gssd_classifier_step_w${layout.width}_n${n}`), state };
}

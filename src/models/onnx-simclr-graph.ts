/**
 * The SimCLR training step as one ONNX graph: two augmented views in, NT-Xent loss out, and
 * every weight, BatchNorm running statistic and Adam moment in and out (`new/` + the input's
 * name). Views are normalised NHWC floats, [2N, S, S, 3], view 1 then view 2; BatchNorm
 * normalises each view on its own, and the running statistics move by view 1 then view 2,
 * as `SimclrTrainer` does on TensorFlow.js.
 *
 * Inputs: `views`, `lr_corrected`, `second_correction`, then `param/NAME`, `stat/NAME`,
 * `m/NAME`, `v/NAME` (`SimclrGraph.state`).
 */
import { OnnxGraph, type Value } from './onnx-graph.js';
import { Tape, addConstant, l2Normalize, matmul, relu, scale, softmaxCrossEntropy } from './onnx-autodiff.js';
import { adamUpdate, runningUpdate, type AdamSettings } from './onnx-optimizer.js';
import { resnetForward, trainableShapes, type ResNetForward } from './onnx-resnet-graph.js';
import { BN_MOMENTUM, convBns, type ResNetLayout } from './resnet-layout.js';

/** The head and loss settings of the step. */
export interface SimclrGraphOptions {
  projDim: number;
  temperature: number;
  adam: AdamSettings;
  /** Also output each trained variable's gradient as `grad/NAME` (tests). */
  gradients?: boolean;
}

/**
 * How a SimCLR step trades memory for time. `fast` runs the one graph of `simclrStepGraph`,
 * which keeps every activation of both views for the backward pass. `low` runs the step of
 * `onnx-simclr-split.ts`: one view at a time, with checkpointed blocks.
 */
export type TrainMemory = 'fast' | 'low';

/** The memory modes. */
export const TRAIN_MEMORY: readonly TrainMemory[] = ['fast', 'low'];

/** A built step graph and the state it carries, by input name, with graph shapes. */
export interface StepGraph {
  bytes: Uint8Array;
  /** State inputs in order; the graph outputs `new/NAME` for each. */
  state: { name: string; shape: number[] }[];
  /** State inputs the graph reads and does not replace. */
  reads?: { name: string; shape: number[] }[];
}

/** Names of the projection head's matrices (gssd's `head/0`, `head/1`). */
export const HEAD = ['head/0', 'head/1'] as const;

/**
 * The trained variables of a SimCLR step in gssd's order (the encoder's, then the head's),
 * with graph shapes.
 *
 * @example
 *   for (const { name, shape } of simclrTrainables(layout, 128)) ...
 */
export function simclrTrainables(layout: ResNetLayout, projDim: number): { name: string; shape: number[] }[] {
  const d = layout.featureDim;
  return [...trainableShapes(layout), { name: HEAD[0], shape: [d, d] }, { name: HEAD[1], shape: [d, projDim] }];
}

/**
 * The SimCLR step graph for batches of `n` images (2n views).
 *
 * @example
 *   const { bytes, state } = simclrStepGraph(resnetLayout({ width: 16 }), 256, { projDim: 128, temperature: 0.5, adam });
 */
export function simclrStepGraph(layout: ResNetLayout, n: number, o: SimclrGraphOptions): StepGraph {
  const g = new OnnxGraph();
  const t = new Tape(g);
  const S = layout.imageSize;
  const views = g.input('views', [2 * n, S, S, 3]);
  const lrCorrected = g.input('lr_corrected', []);
  const secondCorrection = g.input('second_correction', []);
  const trainable = simclrTrainables(layout, o.projDim);
  const params = new Map<string, Value>();
  for (const p of trainable) params.set(p.name, t.param(g.input(`param/${p.name}`, p.shape)));
  const weight = (name: string) => params.get(name)!;

  const x = g.transpose(views, [0, 3, 1, 2]);
  const { h, stats } = resnetForward(t, layout, x, weight, 2);
  const loss = ntXentLoss(t, h, weight, n, o.temperature);
  const grads = t.backward(loss, [...params.values()]);
  g.output('loss', loss);
  if (o.gradients) for (const p of trainable) g.output(`grad/${p.name}`, grads.get(weight(p.name).name)!);

  const state: StepGraph['state'] = [];
  adamOutputs(g, trainable, weight, (name) => grads.get(weight(name).name)!, { lrCorrected, secondCorrection, adam: o.adam }, state);
  runningStatOutputs(g, layout, stats, 2, state);
  return { bytes: g.encode(`gssd_simclr_step_w${layout.width}_n${n}`), state };
}

/** Adam's inputs besides the moments: the step's scalars and settings. */
export interface AdamInputs {
  lrCorrected: Value;
  secondCorrection: Value;
  adam: AdamSettings;
}

/**
 * Adds Adam's update of each of `trainable` (weight from `weight`, gradient from `grad`, the
 * moments as new inputs `m/NAME`, `v/NAME`) as outputs `new/param/NAME`, `new/m/NAME`,
 * `new/v/NAME`, and lists them in `state`.
 *
 * @example
 *   adamOutputs(g, trainable, weight, (name) => grads.get(name)!, { lrCorrected, secondCorrection, adam }, state);
 */
export function adamOutputs(g: OnnxGraph, trainable: { name: string; shape: number[] }[], weight: (name: string) => Value, grad: (name: string) => Value, a: AdamInputs, state: StepGraph['state']): void {
  for (const p of trainable) {
    const mIn = g.input(`m/${p.name}`, p.shape);
    const vIn = g.input(`v/${p.name}`, p.shape);
    const next = adamUpdate(g, weight(p.name), grad(p.name), mIn, vIn, a.lrCorrected, a.secondCorrection, a.adam);
    carry(g, state, `param/${p.name}`, p.shape, next.w);
    carry(g, state, `m/${p.name}`, p.shape, next.m);
    carry(g, state, `v/${p.name}`, p.shape, next.v);
  }
}

/**
 * Adds each BatchNorm's running statistics (inputs `stat/BN.running_mean`, `.running_var`)
 * moved by its batch statistics of `groups` groups, in order, as `new/` outputs listed in
 * `state`.
 *
 * @example
 *   runningStatOutputs(g, layout, stats, 2, state);
 */
export function runningStatOutputs(g: OnnxGraph, layout: ResNetLayout, stats: ResNetForward['stats'], groups: number, state: StepGraph['state']): void {
  const byBn = new Map(stats.map((s) => [s.bn, s.stats]));
  for (const c of convBns(layout)) {
    const s = byBn.get(c.bn)!;
    const mean = g.input(`stat/${c.bn}.running_mean`, [c.outC]);
    const variance = g.input(`stat/${c.bn}.running_var`, [c.outC]);
    carry(g, state, `stat/${c.bn}.running_mean`, [c.outC], runningUpdate(g, mean, s.mean, groups, BN_MOMENTUM, 1));
    carry(g, state, `stat/${c.bn}.running_var`, [c.outC], runningUpdate(g, variance, s.variance, groups, BN_MOMENTUM, s.count / Math.max(1, s.count - 1)));
  }
}

function carry(g: OnnxGraph, state: StepGraph['state'], name: string, shape: number[], next: Value): void {
  g.output(`new/${name}`, next);
  state.push({ name, shape });
}

/**
 * The projection head and NT-Xent loss on features `h` [2n, d] (view 1's rows, then view
 * 2's): the scalar loss, recorded on `t` (head weights `head/0`, `head/1` through `weight`).
 *
 * @example
 *   const loss = ntXentLoss(t, h, (name) => params.get(name)!, 256, 0.5);
 */
export function ntXentLoss(t: Tape, h: Value, weight: (name: string) => Value, n: number, temperature: number): Value {
  const g = t.g;
  const z = matmul(t, relu(t, matmul(t, h, weight(HEAD[0]))), weight(HEAD[1]));
  const u = l2Normalize(t, z);
  const sim = scale(t, matmul(t, u, u, true), 1 / temperature);
  const m = 2 * n;
  const diagonal = new Float32Array(m * m);
  const target = new Float32Array(m * m);
  for (let i = 0; i < m; i++) {
    diagonal[i * m + i] = -1e9;
    target[i * m + (i < n ? i + n : i - n)] = 1;
  }
  const logits = addConstant(t, sim, g.constant(diagonal, [m, m]));
  return softmaxCrossEntropy(t, logits, g.constant(target, [m, m]));
}

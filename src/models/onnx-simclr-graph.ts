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
import { Tape, addConstant, concatRows, l2Normalize, matmul, relu, scale, softmaxCrossEntropy } from './onnx-autodiff.js';
import { adamUpdate, runningUpdate, type AdamSettings } from './onnx-optimizer.js';
import { resnetForward, trainableShapes, type ResNetForward, type WeightOf } from './onnx-resnet-graph.js';
import { BN_MOMENTUM, convBns, type ResNetLayout } from './resnet-layout.js';

/** The head and loss settings of the step. */
export interface SimclrGraphOptions {
  projDim: number;
  temperature: number;
  adam: AdamSettings;
  /** Also output each trained variable's gradient as `grad/NAME` (tests). */
  gradients?: boolean;
  /** `fast` (default): every activation kept for the backward pass; `low`: see `TrainMemory`. */
  memory?: TrainMemory;
}

/**
 * How a step graph trades memory for time. `fast` keeps every activation of both views for
 * the backward pass. `low` runs the encoder view by view (BatchNorm normalises each view on
 * its own anyway, and NT-Xent needs only the 2N embeddings) and checkpoints its stem and
 * residual blocks (`onnx-checkpoint.ts`): the backward pass holds the blocks' inputs and one
 * block of one view at a time, and recomputes each block's forward pass once.
 */
export type TrainMemory = 'fast' | 'low';

/** The memory modes. */
export const TRAIN_MEMORY: readonly TrainMemory[] = ['fast', 'low'];

/** Stages whose blocks `low` checkpoints (all four). */
const LOW_MEMORY_STAGES = 4;

/** A built step graph and the state it carries, by input name, with graph shapes. */
export interface StepGraph {
  bytes: Uint8Array;
  /** State inputs in order; the graph outputs `new/NAME` for each. */
  state: { name: string; shape: number[] }[];
}

/** Names of the projection head's matrices (gssd's `head/0`, `head/1`). */
export const HEAD = ['head/0', 'head/1'] as const;

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
  const d = layout.featureDim;
  const views = g.input('views', [2 * n, S, S, 3]);
  const lrCorrected = g.input('lr_corrected', []);
  const secondCorrection = g.input('second_correction', []);
  const trainable = [...trainableShapes(layout), { name: HEAD[0], shape: [d, d] }, { name: HEAD[1], shape: [d, o.projDim] }];
  const params = new Map<string, Value>();
  for (const p of trainable) params.set(p.name, t.param(g.input(`param/${p.name}`, p.shape)));
  const weight = (name: string) => params.get(name)!;

  const x = g.transpose(views, [0, 3, 1, 2]);
  const { h, stats } = o.memory === 'low' ? viewByView(t, layout, x, n, weight) : resnetForward(t, layout, x, weight, 2);
  const z = matmul(t, relu(t, matmul(t, h, weight(HEAD[0]))), weight(HEAD[1]));
  const u = l2Normalize(t, z);
  const sim = scale(t, matmul(t, u, u, true), 1 / o.temperature);
  const m = 2 * n;
  const diagonal = new Float32Array(m * m);
  const target = new Float32Array(m * m);
  for (let i = 0; i < m; i++) {
    diagonal[i * m + i] = -1e9;
    target[i * m + (i < n ? i + n : i - n)] = 1;
  }
  const logits = addConstant(t, sim, g.constant(diagonal, [m, m]));
  const loss = softmaxCrossEntropy(t, logits, g.constant(target, [m, m]));
  const grads = t.backward(loss, [...params.values()]);
  g.output('loss', loss);

  const state: StepGraph['state'] = [];
  const carry = (name: string, shape: number[], next: Value) => {
    g.output(`new/${name}`, next);
    state.push({ name, shape });
  };
  for (const p of trainable) {
    const w = params.get(p.name)!;
    const mIn = g.input(`m/${p.name}`, p.shape);
    const vIn = g.input(`v/${p.name}`, p.shape);
    const grad = grads.get(w.name)!;
    if (o.gradients) g.output(`grad/${p.name}`, grad);
    const next = adamUpdate(g, w, grad, mIn, vIn, lrCorrected, secondCorrection, o.adam);
    carry(`param/${p.name}`, p.shape, next.w);
    carry(`m/${p.name}`, p.shape, next.m);
    carry(`v/${p.name}`, p.shape, next.v);
  }
  const byBn = new Map(stats.map((s) => [s.bn, s.stats]));
  for (const c of convBns(layout)) {
    const s = byBn.get(c.bn)!;
    const mean = g.input(`stat/${c.bn}.running_mean`, [c.outC]);
    const variance = g.input(`stat/${c.bn}.running_var`, [c.outC]);
    carry(`stat/${c.bn}.running_mean`, [c.outC], runningUpdate(g, mean, s.mean, 2, BN_MOMENTUM, 1));
    carry(`stat/${c.bn}.running_var`, [c.outC], runningUpdate(g, variance, s.variance, 2, BN_MOMENTUM, s.count / Math.max(1, s.count - 1)));
  }
  return { bytes: g.encode(`gssd_simclr_step_w${layout.width}_n${n}${o.memory === 'low' ? '_low' : ''}`), state };
}

/**
 * The encoder run on each view of `x` ([2n, 3, S, S], view 1 then view 2) on its own, with
 * checkpointed blocks: the features of both views as rows [2n, d], and each BatchNorm's
 * statistics per view ([2, C], as `resnetForward` with 2 groups gives them).
 */
function viewByView(t: Tape, layout: ResNetLayout, x: Value, n: number, weight: WeightOf): ResNetForward {
  const g = t.g;
  const [, C, H, W] = x.shape;
  const half = (i: number) => g.op('Slice', [x, g.ints([i * n]), g.ints([(i + 1) * n]), g.ints([0])], [n, C, H, W]);
  const views = [0, 1].map((i) => resnetForward(t, layout, half(i), weight, 1, LOW_MEMORY_STAGES));
  const h = concatRows(t, views.map((v) => v.h));
  const stats = views[0].stats.map(({ bn, stats: s0 }, k) => {
    const s1 = views[1].stats[k].stats;
    const rows = (a: Value, b: Value) => g.op('Concat', [a, b], [2, a.shape[1]], { axis: 0 });
    return { bn, stats: { mean: rows(s0.mean, s1.mean), variance: rows(s0.variance, s1.variance), count: s0.count } };
  });
  return { h, stats };
}

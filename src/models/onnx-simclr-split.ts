/**
 * SimCLR's low-memory step (`--memory low`): the step of `simclrStepGraph` taken as six
 * session runs of four small graphs, so that one view's activations exist at a time.
 *
 * 1. `embed`, view 1 then view 2: the encoder's forward pass, keeping nothing for a backward
 *    pass; outputs the view's features h and moves the BatchNorm running statistics (view 1,
 *    then view 2, as the one-graph step does).
 * 2. `head`: the projection head and NT-Xent on both views' features; outputs the loss, the
 *    head's gradients and the features' gradient dL/dh.
 * 3. `backward`, view 1 then view 2: the view's forward pass again, with checkpointed stem
 *    and blocks (`onnx-checkpoint.ts`), and its backward pass from its rows of dL/dh: this
 *    view's share of the encoder's gradient.
 * 4. `update`: Adam on the sum of the two shares and the head's gradient.
 *
 * Exact, not an approximation: BatchNorm normalises each view with its own batch statistics
 * and NT-Xent reads the encoder only through h, so the loss's gradient is the sum of the two
 * views' backward passes from dL/dh (up to float summation order). The price is one more
 * forward pass of each view.
 */
import { collectGarbage } from './collect-garbage.js';
import { OnnxGraph, type Value } from './onnx-graph.js';
import { Tape } from './onnx-autodiff.js';
import { resnetForward, trainableShapes } from './onnx-resnet-graph.js';
import { adamOutputs, ntXentLoss, runningStatOutputs, simclrTrainables, HEAD, type SimclrGraphOptions, type StepGraph } from './onnx-simclr-graph.js';
import { StepSessions, type OnnxTrainDevice, type TrainStepSession } from './onnx-train-session.js';
import type { ResNetLayout } from './resnet-layout.js';

/** Stages whose blocks the backward graph checkpoints (all four). */
const CHECKPOINT_STAGES = 4;

/** The graphs of the low-memory step. */
export type SplitGraphKind = 'embed' | 'head' | 'backward' | 'update';

/** What `SplitSimclrStep.gradients` returns: the loss and the gradients by variable name. */
export interface SplitGradients {
  loss: number;
  /** Each view's share of the encoder's gradient (`grad/NAME` by name). */
  shares: [Record<string, Float32Array>, Record<string, Float32Array>];
  /** The head's gradients (`grad/head/0`, `grad/head/1`). */
  head: Record<string, Float32Array>;
}

/**
 * Runs the low-memory SimCLR step on onnxruntime against a trainer's state (the same names
 * as `simclrStepGraph`'s: `param/`, `m/`, `v/`, `stat/`). Opens each graph's session on first
 * use, and again for a new batch size.
 *
 * @example
 *   const split = new SplitSimclrStep(layout, { projDim: 128, temperature: 0.5, adam }, { device: 'cpu', threads: 2 });
 *   const loss = await split.step(state, views, 256, { lrCorrected, secondCorrection });
 *   await split.close();
 */
export class SplitSimclrStep {
  private readonly layout: ResNetLayout;
  private readonly options: SimclrGraphOptions;
  private readonly sessions: Record<SplitGraphKind, StepSessions>;
  private providerName: 'cuda' | 'cpu' | undefined;

  constructor(layout: ResNetLayout, options: SimclrGraphOptions, where: OnnxTrainDevice) {
    this.layout = layout;
    this.options = options;
    this.sessions = { embed: new StepSessions(where), head: new StepSessions(where), backward: new StepSessions(where), update: new StepSessions(where) };
  }

  /** Where the graphs run, once one was opened. */
  get provider(): 'cuda' | 'cpu' | undefined {
    return this.providerName;
  }

  /**
   * The loss and gradients of `views` (view 1 then view 2, normalised NHWC floats, 2n x S x
   * S x 3); moves the running statistics in `state`.
   */
  async gradients(state: Map<string, Float32Array>, views: Float32Array, n: number): Promise<SplitGradients> {
    const S = this.layout.imageSize;
    const d = this.layout.featureDim;
    const size = n * S * S * 3;
    const view = (i: number): [Float32Array, number[]] => [views.subarray(i * size, (i + 1) * size), [n, S, S, 3]];
    const embed = await this.session('embed', n);
    const h = new Float32Array(2 * n * d);
    for (const i of [0, 1]) h.set((await embed.run(state, { view: view(i) })).h, i * n * d);
    const head = await (await this.session('head', n)).run(state, { h: [h, [2 * n, d]] });
    const backward = await this.session('backward', n);
    const share = (i: number) => backward.run(state, { view: view(i), dh: [head.dh.subarray(i * n * d, (i + 1) * n * d), [n, d]] });
    const first = await share(0);
    const second = await share(1);
    return { loss: head.loss[0], shares: [first, second], head: { [`grad/${HEAD[0]}`]: head[`grad/${HEAD[0]}`], [`grad/${HEAD[1]}`]: head[`grad/${HEAD[1]}`] } };
  }

  /**
   * One Adam step on `views`; returns the loss before it. `state` is updated in place. The
   * previous step's arrays are collected first (`collectGarbage`), so they are not alive at
   * this step's peak.
   */
  async step(state: Map<string, Float32Array>, views: Float32Array, n: number, scalars: { lrCorrected: number; secondCorrection: number }): Promise<number> {
    collectGarbage();
    const { loss, shares, head } = await this.gradients(state, views, n);
    const extra: Record<string, [Float32Array, number[]]> = {
      lr_corrected: [Float32Array.of(scalars.lrCorrected), []],
      second_correction: [Float32Array.of(scalars.secondCorrection), []],
    };
    for (const p of simclrTrainables(this.layout, this.options.projDim)) {
      if (head[`grad/${p.name}`]) extra[`grad/${p.name}`] = [head[`grad/${p.name}`], p.shape];
      else shares.forEach((s, i) => (extra[`grad${i + 1}/${p.name}`] = [s[`grad/${p.name}`], p.shape]));
    }
    await (await this.session('update', 0)).run(state, extra);
    return loss;
  }

  /** Frees the open sessions. */
  async close(): Promise<void> {
    await Promise.all(Object.values(this.sessions).map((s) => s.close()));
  }

  private async session(kind: SplitGraphKind, n: number): Promise<TrainStepSession> {
    const session = await this.sessions[kind].get(n, () => splitGraph(kind, this.layout, n, this.options), `SimCLR ${kind} (batch ${n})`);
    this.providerName = session.provider;
    return session;
  }
}

/**
 * One graph of the low-memory step for batches of `n` images (`update` does not depend on n).
 *
 * @example
 *   const { bytes, state, reads } = splitGraph('backward', resnetLayout({ width: 64 }), 256, { projDim: 128, temperature: 0.5, adam });
 */
export function splitGraph(kind: SplitGraphKind, layout: ResNetLayout, n: number, o: SimclrGraphOptions): StepGraph {
  if (kind === 'embed') return embedGraph(layout, n);
  if (kind === 'head') return headGraph(layout, n, o);
  if (kind === 'backward') return backwardGraph(layout, n);
  return updateGraph(layout, o);
}

/** Inputs `param/NAME` of the encoder's trained variables, as `reads`, and a lookup by name. */
function encoderParams(g: OnnxGraph, layout: ResNetLayout, t?: Tape): { reads: StepGraph['state']; weight: (name: string) => Value } {
  const reads = trainableShapes(layout).map((p) => ({ name: `param/${p.name}`, shape: p.shape }));
  const params = new Map<string, Value>();
  for (const r of reads) {
    const v = g.input(r.name, r.shape);
    params.set(r.name.slice('param/'.length), t ? t.param(v) : v);
  }
  return { reads, weight: (name) => params.get(name)! };
}

/** One view [n, S, S, 3] NHWC in, features `h` [n, d] out; the running statistics moved by this view. */
function embedGraph(layout: ResNetLayout, n: number): StepGraph {
  const g = new OnnxGraph();
  const S = layout.imageSize;
  const view = g.input('view', [n, S, S, 3]);
  const { reads, weight } = encoderParams(g, layout);
  const { h, stats } = resnetForward(new Tape(g), layout, g.transpose(view, [0, 3, 1, 2]), weight, 1);
  g.output('h', h);
  const state: StepGraph['state'] = [];
  runningStatOutputs(g, layout, stats, 1, state);
  return { bytes: g.encode(`gssd_simclr_embed_w${layout.width}_n${n}`), state, reads };
}

/** Both views' features `h` [2n, d] in; `loss`, `dh` [2n, d] and `grad/head/0`, `grad/head/1` out. */
function headGraph(layout: ResNetLayout, n: number, o: SimclrGraphOptions): StepGraph {
  const g = new OnnxGraph();
  const t = new Tape(g);
  const h = t.param(g.input('h', [2 * n, layout.featureDim]));
  const head = simclrTrainables(layout, o.projDim).filter((p) => (HEAD as readonly string[]).includes(p.name));
  const reads = head.map((p) => ({ name: `param/${p.name}`, shape: p.shape }));
  const params = new Map(head.map((p) => [p.name, t.param(g.input(`param/${p.name}`, p.shape))]));
  const loss = ntXentLoss(t, h, (name) => params.get(name)!, n, o.temperature);
  const grads = t.backward(loss, [h, ...params.values()]);
  g.output('loss', loss);
  g.output('dh', grads.get(h.name)!);
  for (const [name, w] of params) g.output(`grad/${name}`, grads.get(w.name)!);
  return { bytes: g.encode(`gssd_simclr_head_n${n}`), state: [], reads };
}

/** One view and its rows of dL/dh (`dh` [n, d]) in; this view's encoder gradient `grad/NAME` out. */
function backwardGraph(layout: ResNetLayout, n: number): StepGraph {
  const g = new OnnxGraph();
  const t = new Tape(g);
  const S = layout.imageSize;
  const view = g.input('view', [n, S, S, 3]);
  const dh = g.input('dh', [n, layout.featureDim]);
  const { reads, weight } = encoderParams(g, layout, t);
  const { h } = resnetForward(t, layout, g.transpose(view, [0, 3, 1, 2]), weight, 1, CHECKPOINT_STAGES);
  const names = trainableShapes(layout).map((p) => p.name);
  const grads = t.backwardFrom([[h, dh]], names.map(weight));
  for (const name of names) g.output(`grad/${name}`, grads.get(weight(name).name)!);
  return { bytes: g.encode(`gssd_simclr_backward_w${layout.width}_n${n}`), state: [], reads };
}

/**
 * Adam on every trained variable: the encoder's gradient as the sum of `grad1/NAME` and
 * `grad2/NAME` (the views' shares), the head's as `grad/NAME`.
 */
function updateGraph(layout: ResNetLayout, o: SimclrGraphOptions): StepGraph {
  const g = new OnnxGraph();
  const lrCorrected = g.input('lr_corrected', []);
  const secondCorrection = g.input('second_correction', []);
  const trainable = simclrTrainables(layout, o.projDim);
  const params = new Map(trainable.map((p) => [p.name, g.input(`param/${p.name}`, p.shape)]));
  const grads = new Map(
    trainable.map((p) => [
      p.name,
      (HEAD as readonly string[]).includes(p.name) ? g.input(`grad/${p.name}`, p.shape) : g.binary('Add', g.input(`grad1/${p.name}`, p.shape), g.input(`grad2/${p.name}`, p.shape)),
    ]),
  );
  const state: StepGraph['state'] = [];
  adamOutputs(g, trainable, (name) => params.get(name)!, (name) => grads.get(name)!, { lrCorrected, secondCorrection, adam: o.adam }, state);
  return { bytes: g.encode(`gssd_simclr_update_w${layout.width}`), state };
}

/**
 * The training-mode forward pass of gssd's ResNet-18 (`resnet-layout.ts`) on an ONNX
 * `Tape`: convolutions without bias, BatchNorm with batch statistics over `groups` groups of
 * the batch, ReLU, the residual adds, global average pooling. Filters are OIHW here (ONNX's
 * layout); `hwioToOihw` / `oihwToHwio` convert gssd's saved HWIO filters.
 */
import { add, batchNorm, conv2d, globalAvgPool, maxPool3x3s2, relu, type BatchStats, type Tape } from './onnx-autodiff.js';
import { checkpoint, type Segment } from './onnx-checkpoint.js';
import type { Value } from './onnx-graph.js';
import { BN_EPS, convBns, type BlockLayout, type ConvBn, type ResNetLayout } from './resnet-layout.js';

/** The graph value of a variable, by its gssd name and its shape in the graph. */
export type WeightOf = (name: string, shape: number[]) => Value;

/** The forward pass's result: features h [B, 8w] and every BatchNorm's batch statistics. */
export interface ResNetForward {
  h: Value;
  stats: { bn: string; stats: BatchStats }[];
}

/**
 * Graph shape of a variable: OIHW for filters, [C] for BatchNorm vectors.
 *
 * @example
 *   graphShape(layout.stemConv);   // [w, 3, 3, 3]
 */
export function filterShape(c: ConvBn): number[] {
  return [c.outC, c.inC, c.k, c.k];
}

/**
 * Adds the training-mode forward pass of `layout` reading NCHW images `x`. With
 * `checkpointStages` k > 0, the stem and the blocks of the first k stages are checkpointed
 * (`onnx-checkpoint.ts`): the backward pass keeps only their inputs and recomputes each one's
 * activations when it gets there (one more forward pass of those layers, a fraction of the
 * memory; the early stages hold most of it: stage s's maps are 2^(s-1) times smaller).
 *
 * @example
 *   const { h, stats } = resnetForward(t, layout, x, (name, shape) => params.get(name)!, 2);
 */
export function resnetForward(t: Tape, layout: ResNetLayout, x: Value, weight: WeightOf, groups: number, checkpointStages = 0): ResNetForward {
  const stats: ResNetForward['stats'] = [];
  const convBn = (tape: Tape, w: WeightOf, input: Value, c: ConvBn, withRelu: boolean, into: ResNetForward['stats']): Value => {
    const conv = conv2d(tape, input, w(c.conv, filterShape(c)), { stride: c.stride, pad: (c.k - 1) >> 1 });
    const bn = batchNorm(tape, conv, w(`${c.bn}.gamma`, [c.outC]), w(`${c.bn}.beta`, [c.outC]), groups, BN_EPS);
    into.push({ bn: c.bn, stats: bn.stats });
    return withRelu ? relu(tape, bn.y) : bn.y;
  };
  const stem: Segment<ResNetForward['stats']> = (tape, input, w) => {
    const into: ResNetForward['stats'] = [];
    let y = convBn(tape, w, input, layout.stemConv, true, into);
    if (layout.stem === 'imagenet') y = maxPool3x3s2(tape, y);
    return { y, extra: into };
  };
  const block =
    (b: BlockLayout): Segment<ResNetForward['stats']> =>
    (tape, input, w) => {
      const into: ResNetForward['stats'] = [];
      const out = convBn(tape, w, convBn(tape, w, input, b.conv1, true, into), b.conv2, false, into);
      const short = b.shortcut ? convBn(tape, w, input, b.shortcut, false, into) : input;
      return { y: relu(tape, add(tape, out, short)), extra: into };
    };
  const run = (segment: Segment<ResNetForward['stats']>, input: Value, saved: boolean): Value => {
    const { y, extra } = saved ? checkpoint(t, input, weight, segment) : segment(t, input, weight);
    stats.push(...extra);
    return y;
  };
  let y = run(stem, x, checkpointStages > 0);
  layout.blocks.forEach((b, i) => {
    y = run(block(b), y, Math.floor(i / 2) < checkpointStages);
  });
  return { h: globalAvgPool(t, y), stats };
}

/**
 * The trainable variables of `layout` in gssd's order (the order of `ResNet.trainableVariables`)
 * with their graph shapes.
 *
 * @example
 *   for (const { name, shape } of trainableShapes(layout)) ...
 */
export function trainableShapes(layout: ResNetLayout): { name: string; shape: number[] }[] {
  return convBns(layout).flatMap((c) => [
    { name: c.conv, shape: filterShape(c) },
    { name: `${c.bn}.gamma`, shape: [c.outC] },
    { name: `${c.bn}.beta`, shape: [c.outC] },
  ]);
}

/**
 * A [kh, kw, in, out] filter (gssd, TensorFlow) as [out, in, kh, kw] (ONNX).
 *
 * @example
 *   const oihw = hwioToOihw(values, [3, 3, 16, 32]);
 */
export function hwioToOihw(w: Float32Array, [kh, kw, inC, outC]: number[]): Float32Array {
  const out = new Float32Array(w.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < inC; i++) {
        const src = ((y * kw + x) * inC + i) * outC;
        for (let o = 0; o < outC; o++) out[((o * inC + i) * kh + y) * kw + x] = w[src + o];
      }
    }
  }
  return out;
}

/**
 * The inverse of `hwioToOihw`: an [out, in, kh, kw] filter as [kh, kw, in, out].
 *
 * @example
 *   const hwio = oihwToHwio(values, [3, 3, 16, 32]);   // the HWIO shape
 */
export function oihwToHwio(w: Float32Array, [kh, kw, inC, outC]: number[]): Float32Array {
  const out = new Float32Array(w.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < inC; i++) {
        const dst = ((y * kw + x) * inC + i) * outC;
        for (let o = 0; o < outC; o++) out[dst + o] = w[((o * inC + i) * kh + y) * kw + x];
      }
    }
  }
  return out;
}

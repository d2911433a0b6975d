/**
 * Writes a `FlowBank`'s K flows as one ONNX graph (opset 17) for onnxruntime: input `x`
 * float32 [N, D] (the standardised features `FlowBank.logProb` takes), output `loglik`
 * float32 [N, K], the per-dimension log-likelihood of every row under every class's flow.
 *
 * The graph works in the flows' internal coordinates (see flow.ts: the odd steps' parameters
 * are stored permuted, so the feature reversal between steps never happens and the two
 * halves keep their places). ActNorm is not a node: each half is carried as
 * `base * alpha + beta` with constant per-flow alpha, beta, which the ActNorm of the next
 * step composes into; the conditioning half's affine is folded into the coupling MLP's first
 * layer (`(b alpha + beta) W1 + b1 = b (diag(alpha) W1) + (beta W1 + b1)`), and the other
 * half is materialised once, in `aX * exp(ls) + t`. So step 0's first layer reads the input
 * itself, and a 2-step flow is 6 products (onnxruntime fuses in the bias and Relu/Tanh) and
 * ~18 elementwise or reduction passes over [N, D/2] activations. Folding in float64
 * changes only the float32 rounding: agreement with TensorFlow.js is a few 1e-6 at D = 512.
 * Profiled on onnxruntime's CPU provider, ~87% of the time is in the products.
 */
import { VERSION } from '../version.js';
import type { FlowBank } from './flow-bank.js';
import { flowLayout, type FlowState, type StepLayout } from './flow.js';
import { encodeOnnxModel, ONNX_FLOAT, type OnnxInitializer, type OnnxNode } from './onnx-model.js';

/** Default-domain opset of the graph. */
export const FLOW_OPSET = 17;
/** Input and output names of the graph. */
export const FLOW_INPUT = 'x';
export const FLOW_OUTPUT = 'loglik';

const LOG_2PI = Math.log(2 * Math.PI);

/**
 * How the K flows are laid out in the graph. `per-flow` (default): K independent chains of
 * 2-D ops, which onnxruntime fuses into Gemm + bias + Relu/Tanh with prepacked weights.
 * `batched`: the flows stacked on a leading axis ([K, N, features] activations, batched
 * MatMuls, step 0's first layer one broadcast MatMul [N, h] x [K, h, hd]), K times fewer
 * nodes (possibly better on a GPU, not measured) but on the CPU unfused and unpacked: ~10%
 * fewer rows per CPU-second than `per-flow` (K = 10, D = 512, 2-core Zen 4).
 */
export type FlowGraphLayout = 'batched' | 'per-flow';

export interface FlowOnnxOptions {
  /** Graph layout. Default `per-flow`. */
  layout?: FlowGraphLayout;
}

/** One half of the features of a group of flows: value = base * alpha + beta (per flow). */
interface Half {
  base: string;
  /** Per flow of the group, or undefined for the identity. Float64 for the composition. */
  alpha?: Float64Array[];
  beta?: Float64Array[];
}

/** Node and initializer lists under construction, with unique names. */
class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxInitializer[] = [];

  constant(name: string, dims: number[], values: ArrayLike<number>): string {
    this.initializers.push({ name, dims, values: Float32Array.from(values) });
    return name;
  }

  int64(name: string, values: number[]): string {
    this.initializers.push({ name, dims: [values.length], values: { int64: values } });
    return name;
  }

  op(op: string, inputs: string[], output: string, attributes?: OnnxNode['attributes']): string {
    this.nodes.push({ op, inputs, outputs: [output], name: output, attributes });
    return output;
  }
}

/**
 * The ONNX bytes of the bank's flows with their current parameters. Input `x` float32
 * [N, D], output `loglik` float32 [N, K] (row i, column c: what `bank.logProb` gives for
 * row i under class c); batch size free.
 *
 * @example
 *   const bytes = exportFlowBankToOnnx(bank);
 *   const session = await ort.InferenceSession.create(bytes);
 *   const { loglik } = await session.run({ x: new ort.Tensor('float32', features, [n, bank.dim]) });
 */
export function exportFlowBankToOnnx(bank: FlowBank, options: FlowOnnxOptions = {}): Uint8Array {
  const layout = options.layout ?? 'per-flow';
  if (layout !== 'batched' && layout !== 'per-flow') {
    throw new Error(`Expected \`layout\` to be batched or per-flow, got \`${String(layout)}\``);
  }
  const K = bank.numClasses;
  const states = Array.from({ length: K }, (_, c) => bank.flow(c).getState());
  const { dim: D, hidden: hd, steps } = states[0].config;
  for (const [c, s] of states.entries()) {
    if (s.config.dim !== D || s.config.hidden !== hd || s.config.steps !== steps) {
      throw new Error(`Flow ${c} has another configuration than flow 0 (dim, hidden, steps)`);
    }
  }
  if (steps < 1) throw new Error(`Cannot export flows of ${steps} steps`);
  const offsets = flowLayout(D, hd, steps);
  for (const [c, s] of states.entries()) {
    if (s.params.length !== offsets.size) throw new Error(`Flow ${c}: ${s.params.length} parameters, its config lays out ${offsets.size}`);
  }
  const h = D / 2;
  const g = new GraphBuilder();
  g.nodes.push({
    op: 'Split',
    inputs: [FLOW_INPUT, g.int64('x.sizes', [h, h])],
    outputs: ['x.u1', 'x.u2'],
    name: 'x.split',
    attributes: { axis: 1 },
  });
  const groups = layout === 'batched' ? [states.map((_, c) => c)] : states.map((_, c) => [c]);
  const outputs = groups.map((flows, i) => groupLogLik(g, flows.map((c) => states[c]), layout === 'batched', `g${i}`, offsets.steps, D, hd));
  if (layout === 'batched') {
    // [K, N, 1] -> [N, K, 1] -> [N, K]
    const t = g.op('Transpose', [outputs[0]], 'out.transpose', { perm: [1, 0, 2] });
    g.op('Reshape', [t, g.int64('out.shape', [-1, K])], FLOW_OUTPUT);
  } else if (K === 1) {
    g.op('Identity', [outputs[0]], FLOW_OUTPUT);
  } else {
    g.op('Concat', outputs, FLOW_OUTPUT, { axis: 1 });
  }
  return encodeOnnxModel({
    graphName: `gssd_flows_k${K}_d${D}`,
    opset: FLOW_OPSET,
    producer: 'gssd',
    producerVersion: VERSION,
    docString: `gssd per-class normalizing flows: ${K} flows of ${steps} steps, D = ${D}, hidden ${hd}; per-dimension log-likelihoods`,
    nodes: g.nodes,
    initializers: g.initializers,
    inputs: [{ name: FLOW_INPUT, elemType: ONNX_FLOAT, shape: ['N', D] }],
    outputs: [{ name: FLOW_OUTPUT, elemType: ONNX_FLOAT, shape: ['N', K] }],
    metadata: { gssd_flow_classes: String(K), gssd_flow_dim: String(D), gssd_flow_steps: String(steps) },
  });
}

/** Concatenates per-flow arrays into one constant of the given shape; returns its name. */
type Stack = (name: string, shape: number[], parts: ArrayLike<number>[]) => string;

/** Constant shapes and the stacking of per-flow constants for a group of G flows. */
interface GroupShapes {
  /** The shape of a per-flow matrix constant: with the flow axis when stacked. */
  dims: (...d: number[]) => number[];
  /** The shape of a per-flow row-vector constant (bias, alpha, beta). */
  vecDims: (n: number) => number[];
  stack: Stack;
}

function groupShapes(g: GraphBuilder, G: number, stacked: boolean): GroupShapes {
  return {
    dims: (...d) => (stacked ? [G, ...d] : d),
    vecDims: (n) => (stacked ? [G, 1, n] : [n]),
    stack: (name, shape, parts) => {
      const size = parts.reduce((a, p) => a + p.length, 0);
      const all = new Float32Array(size);
      let at = 0;
      for (const p of parts) {
        all.set(p, at);
        at += p.length;
      }
      return g.constant(name, shape, all);
    },
  };
}

/**
 * Adds the nodes of a group of G flows and returns the name of their log-likelihoods:
 * [G, N, 1] when `stacked` (leading flow axis on every per-flow tensor), else (G = 1) [N, 1].
 */
function groupLogLik(g: GraphBuilder, flows: FlowState[], stacked: boolean, prefix: string, offsets: StepLayout[], D: number, hd: number): string {
  const shapes = groupShapes(g, flows.length, stacked);
  const halves: [Half, Half] = [{ base: 'x.u1' }, { base: 'x.u2' }];
  let lsSum: string | undefined;
  for (let k = 0; k < offsets.length; k++) {
    const pre = `${prefix}.s${k}`;
    const r = couplingStep(g, flows, shapes, halves, pre, k, offsets[k], D, hd);
    lsSum = lsSum ? g.op('Add', [lsSum, r], `${pre}.lssum`) : r;
  }
  return logLikelihoodNodes(g, flows, shapes, halves, lsSum!, prefix, offsets, D, stacked);
}

/**
 * The ActNorm of step `o` (dimensions start..start + h of the flow) composed into a half's
 * pending affine, per flow of the group.
 */
function composeActNorm(flows: FlowState[], half: Half, o: StepLayout, start: number, h: number): Half {
  const alpha: Float64Array[] = [];
  const beta: Float64Array[] = [];
  flows.forEach((f, i) => {
    const a = new Float64Array(h);
    const b = new Float64Array(h);
    for (let j = 0; j < h; j++) {
      const s = Math.fround(Math.exp(f.params[o.logs + start + j]));
      const loc = f.params[o.loc + start + j];
      a[j] = (half.alpha ? half.alpha[i][j] : 1) * s;
      b[j] = (half.beta ? half.beta[i][j] : 0) * s + loc * s;
    }
    alpha.push(a);
    beta.push(b);
  });
  return { base: half.base, alpha, beta };
}

/** The coupling network's first layer of step `o` with the conditioning half's affine `aC` folded in, per flow. */
function foldedFirstLayer(flows: FlowState[], aC: Half, o: StepLayout, h: number, hd: number): { w1: Float32Array[]; b1: Float64Array[] } {
  const w1: Float32Array[] = [];
  const b1: Float64Array[] = [];
  flows.forEach((f, i) => {
    const w = new Float32Array(h * hd);
    const b = Float64Array.from(f.params.subarray(o.b1, o.b1 + hd));
    for (let r = 0; r < h; r++) {
      const a = aC.alpha![i][r];
      const be = aC.beta![i][r];
      const row = o.w1 + r * hd;
      for (let c = 0; c < hd; c++) {
        const v = f.params[row + c];
        w[r * hd + c] = a * v;
        b[c] += be * v;
      }
    }
    w1.push(w);
    b1.push(b);
  });
  return { w1, b1 };
}

/**
 * Adds the nodes of coupling step k (ActNorm composed into the halves, affine coupling of the
 * transformed half on the conditioning half), updates `halves`, and returns the name of the
 * row sums of its log-scales.
 */
function couplingStep(g: GraphBuilder, flows: FlowState[], { dims, vecDims, stack }: GroupShapes, halves: [Half, Half], pre: string, k: number, o: StepLayout, D: number, hd: number): string {
  const h = D / 2;
  const pc = k % 2; // position of the conditioning half: first on even steps, second on odd
  const px = 1 - pc;
  const aC = composeActNorm(flows, halves[pc], o, pc * h, h);
  const aX = composeActNorm(flows, halves[px], o, px * h, h);
  const { w1, b1 } = foldedFirstLayer(flows, aC, o, h, hd);
  const z1 = g.op('MatMul', [aC.base, stack(`${pre}.w1`, dims(h, hd), w1)], `${pre}.mm1`);
  const hid = g.op('Relu', [g.op('Add', [z1, stack(`${pre}.b1`, vecDims(hd), b1)], `${pre}.pre1`)], `${pre}.hid`);
  // second layer: log-scale and shift columns as two products (no Split copy)
  const w2 = (col0: number) =>
    flows.map((f) => {
      const w = new Float32Array(hd * h);
      for (let r = 0; r < hd; r++) w.set(f.params.subarray(o.w2 + r * D + col0, o.w2 + r * D + col0 + h), r * h);
      return w;
    });
  const b2 = (col0: number) => flows.map((f) => f.params.subarray(o.b2 + col0, o.b2 + col0 + h));
  const lsRaw = g.op('Add', [g.op('MatMul', [hid, stack(`${pre}.w2s`, dims(hd, h), w2(0))], `${pre}.mm2s`), stack(`${pre}.b2s`, vecDims(h), b2(0))], `${pre}.lsraw`);
  const ls = g.op('Tanh', [lsRaw], `${pre}.ls`);
  const t = g.op('Add', [g.op('MatMul', [hid, stack(`${pre}.w2t`, dims(hd, h), w2(h))], `${pre}.mm2t`), stack(`${pre}.b2t`, vecDims(h), b2(h))], `${pre}.t`);
  const xAff = materialise(g, aX, `${pre}.ax`, vecDims(h), stack);
  const yX = g.op('Add', [g.op('Mul', [xAff, g.op('Exp', [ls], `${pre}.e`)], `${pre}.axe`), t], `${pre}.yx`);
  const r = g.op('ReduceSum', [ls, g.int64(`${pre}.axes`, [-1])], `${pre}.lsrow`, { keepdims: 1 });
  halves[pc] = aC;
  halves[px] = { base: yX };
  return r;
}

/**
 * The per-dimension log-likelihood from the final halves and the summed log-scales:
 * l = (sum ls - 0.5 |z|^2) / D + (-0.5 D log 2pi + sum logs) / D.
 */
function logLikelihoodNodes(g: GraphBuilder, flows: FlowState[], { vecDims, stack }: GroupShapes, halves: [Half, Half], lsSum: string, prefix: string, offsets: StepLayout[], D: number, stacked: boolean): string {
  const h = D / 2;
  const G = flows.length;
  // Mul + ReduceSum: onnxruntime's ReduceSumSquare is ~7x slower per element than ReduceSum
  const axes = g.int64(`${prefix}.axes`, [-1]);
  const sq = halves.map((half, p) => {
    const z = materialise(g, half, `${prefix}.z${p}`, vecDims(h), stack);
    return g.op('ReduceSum', [g.op('Mul', [z, z], `${prefix}.zz${p}`), axes], `${prefix}.sq${p}`, { keepdims: 1 });
  });
  const sqSum = g.op('Add', sq, `${prefix}.sq`);
  const body = g.op('Sub', [lsSum, g.op('Mul', [sqSum, g.constant(`${prefix}.half`, [1], [0.5])], `${prefix}.halfsq`)], `${prefix}.body`);
  const consts = flows.map((f) => {
    let logsSum = 0;
    for (const o of offsets) for (let j = 0; j < D; j++) logsSum += f.params[o.logs + j];
    return (-0.5 * D * LOG_2PI + logsSum) / D;
  });
  const scaled = g.op('Mul', [body, g.constant(`${prefix}.invd`, [1], [1 / D])], `${prefix}.scaled`);
  return g.op('Add', [scaled, g.constant(`${prefix}.c`, stacked ? [G, 1, 1] : [1], consts)], `${prefix}.loglik`);
}

/** Adds the nodes computing base * alpha + beta of a half (none for the identity); its name. */
function materialise(
  g: GraphBuilder,
  half: Half,
  name: string,
  vecDims: number[],
  stack: Stack,
): string {
  let v = half.base;
  if (half.alpha) v = g.op('Mul', [v, stack(`${name}.alpha`, vecDims, half.alpha)], `${name}.scaled`);
  if (half.beta) v = g.op('Add', [v, stack(`${name}.beta`, vecDims, half.beta)], `${name}.shifted`);
  return v;
}

/**
 * Reverse-mode differentiation over ONNX graphs: each differentiable op of this file adds its
 * forward nodes to an `OnnxGraph` and records, on a `Tape`, how to add the nodes of its
 * gradient; `Tape.backward` replays the records in reverse. The ops are layer-sized (a
 * convolution, a training-mode BatchNorm, a log-softmax cross-entropy), each with a
 * hand-written gradient in standard operators, so the backward graph is small and keeps
 * only what it needs (BatchNorm keeps x-hat, ReLU its output):
 *
 * - convolution: dX as `ConvTranspose` of dY with the same filter; dW as one `Gemm` per
 *   filter tap of the output gradient (channels-first, [Co, B*H*W]) against a strided slice of
 *   the padded, channels-first input ([Ci, B*H*W]): K = B*H*W keeps every product large,
 *   including the deep layers' 4x4 maps;
 * - BatchNorm in training mode over G groups of the batch (SimCLR normalises each view on
 *   its own): dX = gamma / sigma * (dY - mean(dY) - x-hat * mean(dY * x-hat)).
 *
 * Only values that depend on a `param` get gradients.
 */
import { OnnxGraph, sizeOf, type Value } from './onnx-graph.js';

type Backward = () => void;

/**
 * Records the ops of a forward pass and emits their gradients.
 *
 * @example
 *   const g = new OnnxGraph();
 *   const t = new Tape(g);
 *   const w = t.param(g.input('w', [4, 2]));
 *   const y = matmul(t, g.input('x', [3, 4]), w);
 *   const grads = t.backward(sumAll(t, y), [w]);   // grads.get('w'): d sum(xw) / dw
 */
export class Tape {
  readonly g: OnnxGraph;
  private readonly steps: Backward[] = [];
  private readonly grads = new Map<string, Value[]>();
  private readonly tracked = new Set<string>();

  constructor(g: OnnxGraph) {
    this.g = g;
  }

  /** Marks `v` as a value to differentiate with respect to. */
  param(v: Value): Value {
    this.tracked.add(v.name);
    return v;
  }

  /** Whether `v` depends on a param. */
  needsGrad(v: Value): boolean {
    return this.tracked.has(v.name);
  }

  /** Records the backward rule of an op whose output `y` depends on any of `inputs`. */
  record(y: Value | Value[], inputs: Value[], back: Backward): void {
    if (!inputs.some((x) => this.needsGrad(x))) return;
    for (const v of Array.isArray(y) ? y : [y]) this.tracked.add(v.name);
    this.steps.push(back);
  }

  /** Adds `grad` to the gradient of `x` (when x needs one). */
  accumulate(x: Value, grad: Value): void {
    if (!this.needsGrad(x)) return;
    if (grad.shape.join() !== x.shape.join()) throw new Error(`gradient of ${x.name} has shape [${grad.shape}], expected [${x.shape}]`);
    const list = this.grads.get(x.name);
    if (list) list.push(grad);
    else this.grads.set(x.name, [grad]);
  }

  /** The gradient of `y` so far (a Sum node over several contributions), or undefined. */
  gradOf(y: Value): Value | undefined {
    const list = this.grads.get(y.name);
    if (!list || list.length === 0) return undefined;
    if (list.length === 1) return list[0];
    const sum = this.g.op('Sum', list, y.shape);
    this.grads.set(y.name, [sum]);
    return sum;
  }

  /**
   * Emits the backward pass of the scalar `loss` and returns the gradients of `wrt` by name
   * (zeros for a param the loss does not depend on).
   */
  backward(loss: Value, wrt: Value[]): Map<string, Value> {
    if (sizeOf(loss.shape) !== 1) throw new Error(`backward needs a scalar loss, got shape [${loss.shape}]`);
    return this.backwardFrom([[loss, this.g.constant([1], loss.shape)]], wrt);
  }

  /**
   * Emits the backward pass from given output gradients (`[y, dy]` pairs, dy of y's shape)
   * and returns the gradients of `wrt` by name: what `backward` does from a scalar's 1, and
   * what a recomputed segment (`checkpoint`) does from its output's gradient.
   *
   * @example
   *   const grads = t.backwardFrom([[h, dh]], [w]);
   */
  backwardFrom(seeds: [Value, Value][], wrt: Value[]): Map<string, Value> {
    for (const [y, dy] of seeds) this.accumulate(y, dy);
    for (let i = this.steps.length - 1; i >= 0; i--) this.steps[i]();
    const out = new Map<string, Value>();
    for (const w of wrt) out.set(w.name, this.gradOf(w) ?? this.g.op('Mul', [w, this.g.constant([0])], w.shape));
    return out;
  }
}

/**
 * `v` itself, bit for bit, as a node that runs only once `dependency` exists (a
 * `Where(IsNaN(first element of dependency), v, v)`): orders onnxruntime's scheduling without
 * changing a value, and is not merged with other uses of `v`.
 *
 * @example
 *   const w2 = after(g, w, dw);   // nodes reading w2 run after dw is computed
 */
export function after(g: OnnxGraph, v: Value, dependency: Value): Value {
  return g.op('Where', [g.op('IsNaN', [firstElement(g, dependency)], [1]), v, v], v.shape);
}

/**
 * A float 0 that exists only once `dependency` does: `x + zeroAfter(g, dy)` is x, computed
 * in the backward pass rather than whenever onnxruntime's scheduler reaches x.
 *
 * @example
 *   const mask = g.op('Greater', [y, zeroAfter(g, dy)], y.shape);
 */
export function zeroAfter(g: OnnxGraph, dependency: Value): Value {
  const zero = g.constant([0]);
  return g.reshape(g.op('Where', [g.op('IsNaN', [firstElement(g, dependency)], [1]), zero, zero], [1]), []);
}

/**
 * The first element of `v` as a [1] value: a cheap dependency on v.
 *
 * @example
 *   const probe = firstElement(g, dy);
 */
export function firstElement(g: OnnxGraph, v: Value): Value {
  const flat = g.reshape(v, [sizeOf(v.shape)]);
  return g.op('Slice', [flat, g.ints([0]), g.ints([1]), g.ints([0])], [1]);
}

/** Convolution geometry: stride and symmetric padding (kernel size from the filter). */
export interface ConvSpec {
  stride: number;
  pad: number;
}

/**
 * 2-D convolution, NCHW input [B, Ci, H, W], OIHW filter [Co, Ci, k, k], no bias.
 *
 * @example
 *   const y = conv2d(t, x, w, { stride: 2, pad: 1 });
 */
export function conv2d(t: Tape, x: Value, w: Value, spec: ConvSpec): Value {
  const g = t.g;
  const [B, Ci, H, W] = x.shape;
  const [Co, wCi, k] = w.shape;
  if (wCi !== Ci) throw new Error(`conv2d: input has ${Ci} channels, filter expects ${wCi}`);
  const { stride: s, pad: p } = spec;
  const Ho = Math.floor((H + 2 * p - k) / s) + 1;
  const Wo = Math.floor((W + 2 * p - k) / s) + 1;
  const conv = { kernel_shape: [k, k], strides: [s, s], pads: [p, p, p, p], dilations: [1, 1], group: 1 };
  const y = g.op('Conv', [x, w], [B, Co, Ho, Wo], conv);
  t.record(y, [x, w], () => {
    const dy = t.gradOf(y);
    if (!dy) return;
    // dW first, and dX through a copy of w that waits for it: onnxruntime schedules nodes
    // depth-first from the outputs, and without this it runs the dX chain down the whole
    // network first and every dW at the end, keeping every activation and every layer's dY
    // alive at once (about twice the memory).
    let filter = w;
    if (t.needsGrad(w)) {
      const dw = convFilterGrad(g, x, dy, k, s, p);
      t.accumulate(w, dw);
      filter = after(g, w, dw);
    }
    if (t.needsGrad(x)) t.accumulate(x, convInputGrad(g, dy, filter, x.shape, k, s, p));
  });
  return y;
}

/**
 * dX of a convolution. Stride 1 with 'same' padding: a convolution of dY with the filter
 * transposed and flipped (onnxruntime's Conv is faster than its ConvTranspose there, see
 * bench/conv-grad.ts); otherwise `ConvTranspose` of dY.
 */
function convInputGrad(g: OnnxGraph, dy: Value, w: Value, xShape: number[], k: number, s: number, p: number): Value {
  const [, , H, W] = xShape;
  const [, , Ho, Wo] = dy.shape;
  const [Co, Ci] = w.shape;
  if (s === 1 && 2 * p === k - 1) {
    let flipped = g.transpose(w, [1, 0, 2, 3]);
    if (k > 1) flipped = g.op('Slice', [flipped, g.ints([k - 1, k - 1]), g.ints([-k - 1, -k - 1]), g.ints([2, 3]), g.ints([-1, -1])], [Ci, Co, k, k]);
    return g.op('Conv', [dy, flipped], xShape, { kernel_shape: [k, k], strides: [1, 1], pads: [p, p, p, p], dilations: [1, 1], group: 1 });
  }
  const outputPadding = [H - (s * (Ho - 1) + k - 2 * p), W - (s * (Wo - 1) + k - 2 * p)];
  return g.op('ConvTranspose', [dy, w], xShape, { kernel_shape: [k, k], strides: [s, s], pads: [p, p, p, p], dilations: [1, 1], group: 1, output_padding: outputPadding });
}

/**
 * dW of a convolution: one Gemm per filter tap, [Co, B*Ho*Wo] x [Ci, B*Ho*Wo]^T. The input's
 * copies (padded or subsampled, channels first) are made from a node that reads a zero
 * computed from dY (`zeroAfter`), so onnxruntime makes them only when dY exists, not early
 * in the forward pass where they would stay alive until the backward pass.
 */
function convFilterGrad(g: OnnxGraph, x: Value, dy: Value, k: number, s: number, p: number): Value {
  const [B, Ci, H, W] = x.shape;
  const [, Co, Ho, Wo] = dy.shape;
  const rows = B * Ho * Wo;
  const dyT = g.reshape(g.transpose(dy, [1, 0, 2, 3]), [Co, rows]);
  const zero = zeroAfter(g, dy);
  if (k === 1 && p === 0) {
    const sub = s > 1 || H !== Ho || W !== Wo ? g.op('Slice', [x, g.ints([0, 0]), g.ints([s * (Ho - 1) + 1, s * (Wo - 1) + 1]), g.ints([2, 3]), g.ints([s, s])], [B, Ci, Ho, Wo]) : x;
    const cols = g.transpose(g.binary('Add', sub, zero), [1, 0, 2, 3]);
    return g.reshape(g.op('Gemm', [dyT, g.reshape(cols, [Ci, rows])], [Co, Ci], { transB: 1 }), [Co, Ci, 1, 1]);
  }
  const padded = p > 0 ? g.op('Pad', [x, g.ints([0, 0, p, p, 0, 0, p, p]), zero], [B, Ci, H + 2 * p, W + 2 * p], { mode: 'constant' }) : g.binary('Add', x, zero);
  const xT = g.transpose(padded, [1, 0, 2, 3]);
  const taps: Value[] = [];
  for (let ky = 0; ky < k; ky++) {
    for (let kx = 0; kx < k; kx++) {
      const starts = g.ints([ky, kx]);
      const ends = g.ints([ky + s * (Ho - 1) + 1, kx + s * (Wo - 1) + 1]);
      const cols = g.op('Slice', [xT, starts, ends, g.ints([2, 3]), g.ints([s, s])], [Ci, B, Ho, Wo]);
      taps.push(g.reshape(g.op('Gemm', [dyT, g.reshape(cols, [Ci, rows])], [Co, Ci], { transB: 1 }), [Co, Ci, 1]));
    }
  }
  return g.reshape(g.op('Concat', taps, [Co, Ci, k * k], { axis: 2 }), [Co, Ci, k, k]);
}

/** What a training-mode BatchNorm returns besides its output: per-group batch statistics. */
export interface BatchStats {
  /** Batch mean per group and channel, [G, C]. */
  mean: Value;
  /** Biased batch variance per group and channel, [G, C]. */
  variance: Value;
  /** Values per channel in one group (N/G x H x W). */
  count: number;
}

/**
 * Training-mode BatchNorm of an NCHW tensor whose batch is `groups` groups normalised each on
 * its own (1: the whole batch). Returns the output and the batch statistics.
 *
 * @example
 *   const { y, stats } = batchNorm(t, x, gamma, beta, 2, 1e-5);
 */
export function batchNorm(t: Tape, x: Value, gamma: Value, beta: Value, groups: number, eps: number): { y: Value; stats: BatchStats } {
  const g = t.g;
  const [B, C, H, W] = x.shape;
  if (B % groups !== 0) throw new Error(`batchNorm: batch ${B} does not split into ${groups} groups`);
  const n = B / groups;
  const count = n * H * W;
  const perCount = g.constant([1 / count]);
  const mul = (a: Value, b: Value) => g.binary('Mul', a, b);
  // statistics in two reading passes: sum and sum of squares (variance = E[x^2] - E[x]^2)
  const xr = g.reshape(x, [groups, n, C, H * W]);
  const mean = mul(g.reduceSum(xr, [1, 3], true), perCount);
  const meanSq = mul(g.op('ReduceSumSquare', [xr], mean.shape, { axes: [1, 3], keepdims: 1 }), perCount);
  const variance = g.op('Max', [g.binary('Sub', meanSq, mul(mean, mean)), g.constant([0])], mean.shape);
  const inv = g.op('Reciprocal', [g.op('Sqrt', [g.binary('Add', variance, g.constant([eps]))], mean.shape)], mean.shape);
  const gamma4 = g.reshape(gamma, [1, 1, C, 1]);
  const a = mul(gamma4, inv);
  const b = g.binary('Sub', g.reshape(beta, [1, 1, C, 1]), mul(mean, a));
  // y = x * a + b per group and channel: two passes over x
  const y = g.reshape(g.binary('Add', mul(xr, a), b), x.shape);
  t.record(y, [x, gamma, beta], () => {
    const dy = t.gradOf(y);
    if (!dy) return;
    const dyr = g.reshape(dy, xr.shape);
    const sumDy = g.reduceSum(dyr, [1, 3], true); // [G, 1, C, 1]
    // sum(dy * x-hat) = inv * (sum(dy * x) - mean * sum(dy))
    const sumDyXhat = mul(inv, g.binary('Sub', g.reduceSum(mul(dyr, xr), [1, 3], true), mul(mean, sumDy)));
    t.accumulate(beta, g.reshape(g.reduceSum(sumDy, [0], true), [C]));
    t.accumulate(gamma, g.reshape(g.reduceSum(sumDyXhat, [0], true), [C]));
    if (t.needsGrad(x)) {
      // dx = a (dy - sum(dy)/M - x-hat sum(dy x-hat)/M) = a dy + k1 x + k0
      const k1 = g.binary('Sub', g.constant([0]), mul(mul(a, inv), mul(sumDyXhat, perCount)));
      const k0 = g.binary('Sub', g.binary('Sub', g.constant([0]), mul(a, mul(sumDy, perCount))), mul(k1, mean));
      const dx = g.binary('Add', g.binary('Add', mul(dyr, a), k0), mul(xr, k1));
      t.accumulate(x, g.reshape(dx, x.shape));
    }
  });
  return { y, stats: { mean: g.reshape(mean, [groups, C]), variance: g.reshape(variance, [groups, C]), count } };
}

/**
 * max(x, 0).
 *
 * @example
 *   const a = relu(t, y);
 */
export function relu(t: Tape, x: Value): Value {
  const g = t.g;
  const y = g.op('Relu', [x], x.shape);
  t.record(y, [x], () => {
    const dy = t.gradOf(y);
    if (!dy) return;
    // dy where y > 0, as dy * Sign(y) (y is 0 or positive): onnxruntime's CPU Where allocates
    // two temporaries of its output's size, Mul none. Sign(y) is not made to wait for dy
    // (`zeroAfter` would cost a pass): onnxruntime's depth-first order runs it just before the
    // Mul (the fast step's peak RSS at width 64: 4,743-4,748 MB, 4,770 with the wait)
    t.accumulate(x, g.binary('Mul', dy, g.op('Sign', [y], y.shape)));
  });
  return y;
}

/**
 * 3x3 max-pool, stride 2, padding 1 (padding never wins), NCHW: the ImageNet stem's. The
 * gradient scatters dY onto the arg-max positions (`MaxPool`'s indices, `ScatterElements`
 * with reduction add).
 *
 * @example
 *   const y = maxPool3x3s2(t, x);
 */
export function maxPool3x3s2(t: Tape, x: Value): Value {
  const g = t.g;
  const [B, C, H, W] = x.shape;
  const shape = [B, C, Math.floor((H + 2 - 3) / 2) + 1, Math.floor((W + 2 - 3) / 2) + 1];
  const [y, indices] = g.opMulti('MaxPool', [x], [shape, shape], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  t.record(y, [x], () => {
    const dy = t.gradOf(y);
    if (!dy) return;
    const flat = [sizeOf(x.shape)];
    const zeros = g.op('ConstantOfShape', [g.ints(flat)], flat);
    const scattered = g.op('ScatterElements', [zeros, g.reshape(indices, [sizeOf(shape)]), g.reshape(dy, [sizeOf(shape)])], flat, { axis: 0, reduction: 'add' });
    t.accumulate(x, g.reshape(scattered, x.shape));
  });
  return y;
}

/**
 * a + b (same shape).
 *
 * @example
 *   const s = add(t, residual, shortcut);
 */
export function add(t: Tape, a: Value, b: Value): Value {
  if (a.shape.join() !== b.shape.join()) throw new Error(`add: shapes [${a.shape}] and [${b.shape}] differ`);
  const y = t.g.binary('Add', a, b);
  t.record(y, [a, b], () => {
    const dy = t.gradOf(y);
    if (!dy) return;
    t.accumulate(a, dy);
    t.accumulate(b, dy);
  });
  return y;
}

/**
 * Mean over the spatial axes of an NCHW tensor: [B, C, H, W] -> [B, C].
 *
 * @example
 *   const h = globalAvgPool(t, features);
 */
export function globalAvgPool(t: Tape, x: Value): Value {
  const g = t.g;
  const [B, C, H, W] = x.shape;
  const y = g.reshape(g.op('GlobalAveragePool', [x], [B, C, 1, 1]), [B, C]);
  t.record(y, [x], () => {
    const dy = t.gradOf(y);
    if (!dy) return;
    const spread = g.binary('Mul', g.reshape(dy, [B, C, 1, 1]), g.constant([1 / (H * W)]));
    t.accumulate(x, g.op('Expand', [spread, g.ints(x.shape)], x.shape));
  });
  return y;
}

/**
 * Matrix product a [M, K] x b [K, N], or a x b^T when `transB` (b [N, K]).
 *
 * @example
 *   const z = matmul(t, h, w1);
 *   const sim = matmul(t, u, u, true);
 */
export function matmul(t: Tape, a: Value, b: Value, transB = false): Value {
  const g = t.g;
  const [M, K] = a.shape;
  const N = transB ? b.shape[0] : b.shape[1];
  if ((transB ? b.shape[1] : b.shape[0]) !== K) throw new Error(`matmul: [${a.shape}] x [${b.shape}]${transB ? '^T' : ''} do not fit`);
  const y = g.op('Gemm', [a, b], [M, N], transB ? { transB: 1 } : {});
  t.record(y, [a, b], () => {
    const dy = t.gradOf(y);
    if (!dy) return;
    if (t.needsGrad(a)) t.accumulate(a, transB ? g.op('MatMul', [dy, b], a.shape) : g.op('Gemm', [dy, b], a.shape, { transB: 1 }));
    if (t.needsGrad(b)) t.accumulate(b, transB ? g.op('Gemm', [dy, a], b.shape, { transA: 1 }) : g.op('Gemm', [a, dy], b.shape, { transA: 1 }));
  });
  return y;
}

/**
 * x + bias, the bias [N] broadcast over the rows of x [M, N].
 *
 * @example
 *   const logits = addBias(t, matmul(t, h, w), b);
 */
export function addBias(t: Tape, x: Value, bias: Value): Value {
  const g = t.g;
  const y = g.binary('Add', x, bias);
  t.record(y, [x, bias], () => {
    const dy = t.gradOf(y);
    if (!dy) return;
    t.accumulate(x, dy);
    t.accumulate(bias, g.reduceSum(dy, [0], false));
  });
  return y;
}

/**
 * x * c for a constant c.
 *
 * @example
 *   const logits = scale(t, sim, 1 / temperature);
 */
export function scale(t: Tape, x: Value, c: number): Value {
  const g = t.g;
  const y = g.binary('Mul', x, g.constant([c]));
  t.record(y, [x], () => {
    const dy = t.gradOf(y);
    if (dy) t.accumulate(x, g.binary('Mul', dy, g.constant([c])));
  });
  return y;
}

/**
 * x + c for a constant tensor c of x's shape (a mask, say).
 *
 * @example
 *   const masked = addConstant(t, logits, diagonalMask);
 */
export function addConstant(t: Tape, x: Value, c: Value): Value {
  const y = t.g.binary('Add', x, c);
  t.record(y, [x], () => {
    const dy = t.gradOf(y);
    if (dy) t.accumulate(x, dy);
  });
  return y;
}

/**
 * Rows of x [M, D] divided by max(their L2 norm, 1e-12) (as `tf.norm` + `tf.maximum`).
 *
 * @example
 *   const u = l2Normalize(t, z);
 */
export function l2Normalize(t: Tape, x: Value): Value {
  const g = t.g;
  const [M] = x.shape;
  const norm = g.op('Sqrt', [g.reduceSum(g.binary('Mul', x, x), [1], true)], [M, 1]);
  const eps = g.constant([1e-12]);
  const denom = g.op('Max', [norm, eps], [M, 1]);
  const y = g.binary('Div', x, denom);
  t.record(y, [x], () => {
    const dy = t.gradOf(y);
    if (!dy) return;
    // d(x / n)/dx = (dy - y * sum(dy * y)) / n where n > eps; dy / eps where the floor holds
    const above = g.op('Cast', [g.op('Greater', [norm, eps], [M, 1])], [M, 1], { to: 1 });
    const radial = g.binary('Mul', y, g.binary('Mul', g.reduceSum(g.binary('Mul', dy, y), [1], true), above));
    t.accumulate(x, g.binary('Div', g.binary('Sub', dy, radial), denom));
  });
  return y;
}

/**
 * Mean softmax cross-entropy of logits [M, K] against a target distribution [M, K] (one-hot
 * rows for labels); the target gets no gradient. Returns a scalar.
 *
 * @example
 *   const loss = softmaxCrossEntropy(t, logits, onehot);
 */
export function softmaxCrossEntropy(t: Tape, logits: Value, target: Value): Value {
  const g = t.g;
  const [M] = logits.shape;
  const logp = g.op('LogSoftmax', [logits], logits.shape, { axis: 1 });
  const loss = g.binary('Mul', g.reduceSum(g.binary('Mul', target, logp), [0, 1], false), g.constant([-1 / M]));
  t.record(loss, [logits], () => {
    const dl = t.gradOf(loss);
    if (!dl) return;
    const diff = g.binary('Sub', g.op('Exp', [logp], logp.shape), target);
    t.accumulate(logits, g.binary('Mul', diff, g.binary('Mul', dl, g.constant([1 / M]))));
  });
  return loss;
}

/**
 * Sum of every element (a scalar): test losses.
 *
 * @example
 *   const loss = sumAll(t, y);
 */
export function sumAll(t: Tape, x: Value): Value {
  const g = t.g;
  const y = g.reduceSum(x, x.shape.map((_, i) => i), false);
  t.record(y, [x], () => {
    const dy = t.gradOf(y);
    if (dy) t.accumulate(x, g.op('Expand', [dy, g.ints(x.shape)], x.shape));
  });
  return y;
}

/**
 * Sum of x * c for a constant tensor c: a loss whose gradient is c, for gradient checks.
 *
 * @example
 *   const loss = weightedSum(t, y, g.constant(probe, y.shape));
 */
export function weightedSum(t: Tape, x: Value, c: Value): Value {
  const g = t.g;
  const y = g.reduceSum(g.binary('Mul', x, c), x.shape.map((_, i) => i), false);
  t.record(y, [x], () => {
    const dy = t.gradOf(y);
    if (dy) t.accumulate(x, g.binary('Mul', c, dy));
  });
  return y;
}

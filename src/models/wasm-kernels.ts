/**
 * Training kernels for the TensorFlow.js wasm backend, so that `tf.grad`, `tf.variableGrads`
 * and the optimisers work, and fast, on it:
 *
 * - `Conv2DBackpropFilter` (missing from the wasm backend): a forward convolution of the
 *   transposed input (channels as batch, batch as channels) with the transposed output
 *   gradient as filter, dilated by the stride.
 * - `Conv2DBackpropInput` (the wasm one is a naive loop): a forward convolution of the output
 *   gradient with the spatially flipped, in/out-swapped filter; for stride s > 1, one such
 *   convolution per output phase with the taps of that phase (s x s phases interleaved), so
 *   no product runs on inserted zeros. The flipped filters are cached per filter.
 * - `BatchMatMul` with transposeA/transposeB (the wasm one is ~15x slower than the plain
 *   product): an explicit transpose, then the plain product.
 * - `Identity` (the wasm one copies): shares the data, so the tensors the gradient tape saves
 *   are not copied and keep their identity (the derived filters below are found again).
 *
 * Each is built from the wasm backend's own kernels (XNNPACK convolution and GEMM), called
 * directly on tensor infos, intermediates freed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { backend_util, type TensorInfo, type KernelConfig, type NamedAttrMap } from '@tensorflow/tfjs-core';

type Backend = {
  disposeData(dataId: object): boolean;
};

type KernelFn = (args: { inputs: Record<string, TensorInfo>; backend: Backend; attrs?: NamedAttrMap }) => TensorInfo;

let registered = false;

/**
 * Tensors derived from a filter (flipped, cut into phase sub-filters) kept for the filter's
 * next uses: both SimCLR views backpropagate through the same weights within a step, and
 * XNNPACK then reuses its packed copy of the derived filter instead of packing it again.
 * Tensors are immutable, so a dataId always names the same values; beyond `limit` filters
 * the least recently used entry is freed.
 */
class DerivedFilters {
  private readonly entries = new Map<object, { backend: Backend; byKey: Map<string, TensorInfo[]> }>();

  constructor(private readonly limit: number) {}

  get(backend: Backend, filter: TensorInfo, key: string, make: () => TensorInfo[]): TensorInfo[] {
    let entry = this.entries.get(filter.dataId);
    if (entry) this.entries.delete(filter.dataId);
    else entry = { backend, byKey: new Map() };
    this.entries.set(filter.dataId, entry);
    let derived = entry.byKey.get(key);
    if (!derived) {
      derived = make();
      entry.byKey.set(key, derived);
    }
    while (this.entries.size > this.limit) {
      const [oldest, old] = this.entries.entries().next().value as [object, { backend: Backend; byKey: Map<string, TensorInfo[]> }];
      this.entries.delete(oldest);
      for (const ts of old.byKey.values()) for (const t of ts) old.backend.disposeData(t.dataId);
    }
    return derived;
  }
}

/** A ResNet-18 has 20 convolutions: room for one step's filters and the next step's. */
const derivedFilters = new DerivedFilters(48);

/**
 * Registers the kernels above for the 'wasm' backend (once; later calls do nothing). Called
 * by `initBackend` when it starts wasm.
 *
 * @example
 *   registerWasmTrainingKernels();
 *   const g = tf.grad((f) => tf.conv2d(x, f, 1, 'same').sum())(filter);   // now fast on wasm
 */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  const base = baseKernels();
  for (const k of [filterGradKernel(base), inputGradKernel(base), batchMatMulKernel(base), identityKernel(base)]) {
    const original = tf.getKernel(k.kernelName, 'wasm');
    if (original) tf.unregisterKernel(k.kernelName, 'wasm');
    // keep the original's setup (it binds the wasm function the wrapper falls back to), in
    // case the backend is (re)initialised after this registration
    tf.registerKernel(original?.setupFunc ? { ...k, setupFunc: original.setupFunc } : k);
  }
  registered = true;
}

/** The wasm backend's own kernels that the training kernels are built from. */
interface BaseKernels {
  conv2d: KernelFn;
  transpose: KernelFn;
  reshape: KernelFn;
  pad: KernelFn;
  slice: KernelFn;
  matMul: KernelFn;
  inputGradNative: KernelFn;
  stridedSlice: KernelFn;
  concat: KernelFn;
  fill: KernelFn;
  identityCopy: KernelFn;
}

function baseKernels(): BaseKernels {
  const get = (name: string): KernelFn => {
    const k = tf.getKernel(name, 'wasm');
    if (!k) throw new Error(`The wasm backend has no ${name} kernel`);
    return k.kernelFunc as unknown as KernelFn;
  };
  return {
    conv2d: get('Conv2D'),
    transpose: get('Transpose'),
    reshape: get('Reshape'),
    pad: get('PadV2'),
    slice: get('Slice'),
    matMul: get('BatchMatMul'),
    inputGradNative: get('Conv2DBackpropInput'),
    stridedSlice: get('StridedSlice'),
    concat: get('Concat'),
    fill: get('Fill'),
    identityCopy: get('Identity'),
  };
}

/** Helpers over the base kernels on `backend` that keep every intermediate, freed by `done`. */
function ops(base: BaseKernels, backend: Backend) {
  const temps: TensorInfo[] = [];
  const keep = (t: TensorInfo): TensorInfo => {
    temps.push(t);
    return t;
  };
  return {
    transpose: (x: TensorInfo, perm: number[]) => keep(base.transpose({ inputs: { x }, backend, attrs: { perm } })),
    reshape: (x: TensorInfo, shape: number[]) => keep(base.reshape({ inputs: { x }, backend, attrs: { shape } })),
    pad: (x: TensorInfo, paddings: [number, number][]) =>
      keep(base.pad({ inputs: { x }, backend, attrs: { paddings, constantValue: 0 } as unknown as NamedAttrMap })),
    slice: (x: TensorInfo, begin: number[], size: number[]) => keep(base.slice({ inputs: { x }, backend, attrs: { begin, size } })),
    concat: (xs: TensorInfo[], axis: number) => keep(base.concat({ inputs: xs as unknown as Record<string, TensorInfo>, backend, attrs: { axis } })),
    zeros: (shape: number[]) => keep(base.fill({ backend, attrs: { shape, value: 0, dtype: 'float32' } as unknown as NamedAttrMap } as Parameters<KernelFn>[0])),
    conv: (x: TensorInfo, filter: TensorInfo, pads: [number, number, number, number], dilation: number) =>
      keep(
        base.conv2d({
          inputs: { x, filter },
          backend,
          attrs: {
            strides: [1, 1],
            pad: [[0, 0], [pads[0], pads[1]], [pads[2], pads[3]], [0, 0]],
            dataFormat: 'NHWC',
            dilations: [dilation, dilation],
            dimRoundingMode: undefined,
          } as unknown as NamedAttrMap,
        }),
      ),
    /** Frees every intermediate except `result`. */
    done: (result: TensorInfo): TensorInfo => {
      for (const t of temps) if (t !== result) backend.disposeData(t.dataId);
      return result;
    },
  };
}

type Ops = ReturnType<typeof ops>;

function stridedSliceInfo(base: BaseKernels, backend: Backend, x: TensorInfo, begin: number[], end: number[], strides: number[]): TensorInfo {
  return base.stridedSlice({
    inputs: { x },
    backend,
    attrs: { begin, end, strides, beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0 },
  });
}

/**
 * The filter flipped spatially with in/out swapped ([kh, kw, co, ci]), cached. Flipping both
 * spatial axes reverses the order of the kh x kw taps, each a contiguous [ci, co] block:
 * block copies, where the wasm `Reverse` kernel takes ~10x longer element by element.
 */
function flipped(base: BaseKernels, backend: Backend, filter: TensorInfo): TensorInfo {
  return derivedFilters.get(backend, filter, 'flip', () => {
    const [kh, kw, ci, co] = filter.shape;
    const o = ops(base, backend);
    const taps = o.reshape(filter, [kh * kw, ci * co]);
    const blocks = Array.from({ length: kh * kw }, (_, t) => o.slice(taps, [kh * kw - 1 - t, 0], [1, ci * co]));
    const reversed = o.reshape(o.concat(blocks, 0), [kh, kw, ci, co]);
    return [o.done(o.transpose(reversed, [0, 1, 3, 2]))];
  })[0];
}

/**
 * Input gradient of a stride-s convolution without zero insertion: the rows (columns) of dx
 * with index = phase (mod s) only meet the filter taps of one residue, so each of the s x s
 * phases is a stride-1 convolution of dy with its sub-filter (s x s fewer products than the
 * zero-inserted form), and the phases interleave into dx. Undefined when a phase would need
 * a negative padding (the caller falls back).
 */
function phaseInputGrad(
  base: BaseKernels,
  backend: Backend,
  o: Ops,
  dy: TensorInfo,
  filter: TensorInfo,
  g: { s: number; kh: number; kw: number; top: number; left: number; H: number; W: number },
): TensorInfo | undefined {
  const [n, oh, ow, co] = dy.shape;
  const ci = filter.shape[2];
  const { s } = g;
  /** Per phase along one axis: the taps' window in the flipped filter and the pads. */
  const axis = (size: number, k: number, pad: number, out: number) => {
    const m = size / s;
    return Array.from({ length: s }, (_, p) => {
      const taps = Array.from({ length: k }, (_, t) => t).filter((t) => (t - p - pad) % s === 0);
      if (taps.length === 0) return { empty: true as const };
      const kmin = taps[0];
      const kmax = taps[taps.length - 1];
      const before = -((p + pad - kmax) / s);
      const after = m - out - before + taps.length - 1;
      return { empty: false as const, begin: k - 1 - kmax, end: k - kmin, before, after };
    });
  };
  const rows = axis(g.H, g.kh, g.top, oh);
  const cols = axis(g.W, g.kw, g.left, ow);
  if ([...rows, ...cols].some((a) => !a.empty && (a.before < 0 || a.after < 0))) return undefined;
  const f = flipped(base, backend, filter);
  const subs = derivedFilters.get(backend, filter, `phases ${s} ${g.top} ${g.left}`, () =>
    rows.flatMap((r) =>
      cols.flatMap((c) => (r.empty || c.empty ? [] : [stridedSliceInfo(base, backend, f, [r.begin, c.begin, 0, 0], [r.end, c.end, co, ci], [s, s, 1, 1])])),
    ),
  );
  const m = g.H / s;
  const mw = g.W / s;
  const phases: TensorInfo[] = [];
  let next = 0;
  for (const r of rows) {
    for (const c of cols) {
      if (r.empty || c.empty) phases.push(o.zeros([n, m, mw, ci]));
      else phases.push(o.conv(dy, subs[next++], [r.before, r.after, c.before, c.after], 1));
    }
  }
  // [s(row phase), s(col phase), n*m, mw, ci] -> [n*m, s, mw, s, ci] = dx, as two transposes
  // that move whole channel rows (the wasm 5-D transpose is element-wise and ~100x slower)
  const stacked = o.reshape(o.concat(phases, 0), [s, s, n * m * mw, ci]);
  const interleaved = o.reshape(o.transpose(stacked, [0, 2, 1, 3]), [s, n * m, mw * s * ci]);
  return o.reshape(o.transpose(interleaved, [1, 0, 2]), [n, g.H, g.W, ci]);
}

/** `Conv2DBackpropFilter`: a forward convolution of the transposed input with the transposed output gradient. */
function filterGradKernel(base: BaseKernels): KernelConfig {
  return {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'wasm',
  kernelFunc: (({ inputs, backend, attrs }: Parameters<KernelFn>[0]) => {
    const { x, dy } = inputs;
    const { strides, pad: padAttr, dimRoundingMode, filterShape, dataFormat } = attrs as unknown as {
      strides: [number, number] | number;
      pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
      filterShape: [number, number, number, number];
      dataFormat: 'NHWC' | 'NCHW';
    };
    if (dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter on wasm supports NHWC only');
    const info = backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, padAttr, dimRoundingMode);
    const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, inHeight: H, inWidth: W } = info;
    const { top, left } = info.padInfo;
    if (sh !== sw) throw new Error('Conv2DBackpropFilter on wasm needs equal strides');
    const o = ops(base, backend as Backend);
    // xT: [ci, H, W, n] (channels as batch); dyT: [oh, ow, n, co] (the filter). xT as a 2-D
    // transpose then one that moves whole rows of n: 1.5-3x faster than the 4-D permutation
    const [n, , , ci] = x.shape;
    const rows = o.transpose(o.reshape(x, [n, H * W * ci]), [1, 0]);
    const xT = o.reshape(o.transpose(o.reshape(rows, [H * W, ci, n]), [1, 0, 2]), [ci, H, W, n]);
    const dyT = o.transpose(dy, [1, 2, 0, 3]);
    const oh = dy.shape[1];
    const ow = dy.shape[2];
    // output side = H + top + bottom - (oh - 1) * s; make it at least kh, slice to kh
    const bottom = Math.max(0, kh - H - top + (oh - 1) * sh);
    const right = Math.max(0, kw - W - left + (ow - 1) * sw);
    let out = o.conv(xT, dyT, [top, bottom, left, right], sh);
    if (out.shape[1] !== kh || out.shape[2] !== kw) out = o.slice(out, [0, 0, 0, 0], [out.shape[0], kh, kw, out.shape[3]]);
    return o.done(o.transpose(out, [1, 2, 0, 3]));
  }) as unknown as KernelConfig['kernelFunc'],
};
}

/** `Conv2DBackpropInput`: phase convolutions for stride s > 1, else a convolution with the flipped filter. */
function inputGradKernel(base: BaseKernels): KernelConfig {
  return {
  kernelName: 'Conv2DBackpropInput',
  backendName: 'wasm',
  kernelFunc: ((args: Parameters<KernelFn>[0]) => {
    const { inputs, backend, attrs } = args;
    const { dy, filter } = inputs;
    const { strides, pad: padAttr, dimRoundingMode, inputShape, dataFormat } = attrs as unknown as {
      strides: [number, number] | number;
      pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
      inputShape: [number, number, number, number];
      dataFormat: 'NHWC' | 'NCHW';
    };
    const info = backend_util.computeConv2DInfo(inputShape, filter.shape as [number, number, number, number], strides, 1, padAttr, dimRoundingMode);
    const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, inHeight: H, inWidth: W } = info;
    const { top, left } = info.padInfo;
    const [n, oh, ow, co] = dy.shape;
    const s = sh;
    // pads of the equivalent stride-1 convolution over the zero-inserted gradient (whose
    // side is oh * s: s - 1 trailing zeros included)
    const pt = kh - 1 - top;
    const pl = kw - 1 - left;
    const pb = H + top - oh * s;
    const pr = W + left - ow * s;
    if (dataFormat === 'NCHW' || sh !== sw || pt < 0 || pl < 0 || pb < 0 || pr < 0) return base.inputGradNative(args);
    const o = ops(base, backend as Backend);
    if (s > 1 && H % s === 0 && W % s === 0) {
      const phased = phaseInputGrad(base, backend as Backend, o, dy, filter, { s, kh, kw, top, left, H, W });
      if (phased) return o.done(phased);
    }
    let g = dy;
    if (s > 1) {
      // zero insertion: [n*oh, ow, 1, co] -> pad -> [n, oh, ow*s, co] -> [n, oh, 1, ow*s*co] -> pad -> [n, oh*s, ow*s, co]
      g = o.reshape(g, [n * oh, ow, 1, co]);
      g = o.pad(g, [[0, 0], [0, 0], [0, s - 1], [0, 0]]);
      g = o.reshape(g, [n, oh, 1, ow * s * co]);
      g = o.pad(g, [[0, 0], [0, 0], [0, s - 1], [0, 0]]);
      g = o.reshape(g, [n, oh * s, ow * s, co]);
    }
    return o.done(o.conv(g, flipped(base, backend as Backend, filter), [pt, pb, pl, pr], 1));
  }) as unknown as KernelConfig['kernelFunc'],
};
}

/** `BatchMatMul` with transposes: an explicit transpose, then the plain product. */
function batchMatMulKernel(base: BaseKernels): KernelConfig {
  return {
  kernelName: 'BatchMatMul',
  backendName: 'wasm',
  kernelFunc: ((args: Parameters<KernelFn>[0]) => {
    const { inputs, backend, attrs } = args;
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return base.matMul(args);
    const o = ops(base, backend as Backend);
    const swap = (t: TensorInfo): TensorInfo => {
      const r = t.shape.length;
      const perm = [...Array(r).keys()];
      [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
      return o.transpose(t, perm);
    };
    const a = transposeA ? swap(inputs.a) : inputs.a;
    const b = transposeB ? swap(inputs.b) : inputs.b;
    const out = base.matMul({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } });
    return o.done(out);
  }) as unknown as KernelConfig['kernelFunc'],
};
}

// `tf.clone`, and so every tensor the gradient tape saves, copied the whole tensor; tensors
// are immutable, so share the data as the cpu backend does (one more reference)
function identityKernel(base: BaseKernels): KernelConfig {
  return {
  kernelName: 'Identity',
  backendName: 'wasm',
  kernelFunc: (({ inputs, backend }: Parameters<KernelFn>[0]) => {
    const { x } = inputs;
    if (x.dtype === 'string') return base.identityCopy({ inputs, backend });
    (backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  }) as unknown as KernelConfig['kernelFunc'],
};
}

/**
 * Training kernels for the TensorFlow.js wasm backend, so that `tf.grad`, `tf.variableGrads`
 * and the optimisers work, and fast, on it:
 *
 * - `Conv2DBackpropFilter` (missing from the wasm backend): a forward convolution of the
 *   transposed input (channels as batch, batch as channels) with the transposed output
 *   gradient as filter, dilated by the stride.
 * - `Conv2DBackpropInput` (the wasm one is a naive loop): a forward convolution of the output
 *   gradient (zero-inserted for stride > 1) with the spatially flipped, in/out-swapped filter.
 * - `BatchMatMul` with transposeA/transposeB (the wasm one is ~15x slower than the plain
 *   product): an explicit transpose, then the plain product.
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
 * Registers the kernels above for the 'wasm' backend (once; later calls do nothing). Called
 * by `initBackend` when it starts wasm.
 *
 * @example
 *   registerWasmTrainingKernels();
 *   const g = tf.grad((f) => tf.conv2d(x, f, 1, 'same').sum())(filter);   // now fast on wasm
 */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  const get = (name: string): KernelFn => {
    const k = tf.getKernel(name, 'wasm');
    if (!k) throw new Error(`The wasm backend has no ${name} kernel`);
    return k.kernelFunc as unknown as KernelFn;
  };
  const conv2d = get('Conv2D');
  const transpose = get('Transpose');
  const reshape = get('Reshape');
  const pad = get('PadV2');
  const slice = get('Slice');
  const reverse = get('Reverse');
  const matMul = get('BatchMatMul');
  const inputGradNative = get('Conv2DBackpropInput');

  const ops = (backend: Backend) => {
    const temps: TensorInfo[] = [];
    const keep = (t: TensorInfo): TensorInfo => {
      temps.push(t);
      return t;
    };
    return {
      transpose: (x: TensorInfo, perm: number[]) => keep(transpose({ inputs: { x }, backend, attrs: { perm } })),
      reshape: (x: TensorInfo, shape: number[]) => keep(reshape({ inputs: { x }, backend, attrs: { shape } })),
      pad: (x: TensorInfo, paddings: [number, number][]) =>
        keep(pad({ inputs: { x }, backend, attrs: { paddings, constantValue: 0 } as unknown as NamedAttrMap })),
      slice: (x: TensorInfo, begin: number[], size: number[]) => keep(slice({ inputs: { x }, backend, attrs: { begin, size } })),
      reverse: (x: TensorInfo, dims: number[]) => keep(reverse({ inputs: { x }, backend, attrs: { dims } })),
      conv: (x: TensorInfo, filter: TensorInfo, pads: [number, number, number, number], dilation: number) =>
        keep(
          conv2d({
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
  };

  const filterGrad: KernelConfig = {
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
      const o = ops(backend as Backend);
      // xT: [ci, H, W, n] (channels as batch); dyT: [oh, ow, n, co] (the filter)
      const xT = o.transpose(x, [3, 1, 2, 0]);
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

  const inputGrad: KernelConfig = {
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
      if (dataFormat === 'NCHW' || sh !== sw || pt < 0 || pl < 0 || pb < 0 || pr < 0) return inputGradNative(args);
      const o = ops(backend as Backend);
      let g = dy;
      if (s > 1) {
        // zero insertion: [n*oh, ow, 1, co] -> pad -> [n, oh, ow*s, co] -> [n, oh, 1, ow*s*co] -> pad -> [n, oh*s, ow*s, co]
        g = o.reshape(g, [n * oh, ow, 1, co]);
        g = o.pad(g, [[0, 0], [0, 0], [0, s - 1], [0, 0]]);
        g = o.reshape(g, [n, oh, 1, ow * s * co]);
        g = o.pad(g, [[0, 0], [0, 0], [0, s - 1], [0, 0]]);
        g = o.reshape(g, [n, oh * s, ow * s, co]);
      }
      // flipped filter with in/out swapped: [kh, kw, co, ci]
      const f = o.transpose(o.reverse(filter, [0, 1]), [0, 1, 3, 2]);
      return o.done(o.conv(g, f, [pt, pb, pl, pr], 1));
    }) as unknown as KernelConfig['kernelFunc'],
  };

  const batchMatMul: KernelConfig = {
    kernelName: 'BatchMatMul',
    backendName: 'wasm',
    kernelFunc: ((args: Parameters<KernelFn>[0]) => {
      const { inputs, backend, attrs } = args;
      const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
      if (!transposeA && !transposeB) return matMul(args);
      const o = ops(backend as Backend);
      const swap = (t: TensorInfo): TensorInfo => {
        const r = t.shape.length;
        const perm = [...Array(r).keys()];
        [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
        return o.transpose(t, perm);
      };
      const a = transposeA ? swap(inputs.a) : inputs.a;
      const b = transposeB ? swap(inputs.b) : inputs.b;
      const out = matMul({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } });
      return o.done(out);
    }) as unknown as KernelConfig['kernelFunc'],
  };

  for (const k of [filterGrad, inputGrad, batchMatMul]) {
    const original = tf.getKernel(k.kernelName, 'wasm');
    if (original) tf.unregisterKernel(k.kernelName, 'wasm');
    // keep the original's setup (it binds the wasm function the wrapper falls back to), in
    // case the backend is (re)initialised after this registration
    tf.registerKernel(original?.setupFunc ? { ...k, setupFunc: original.setupFunc } : k);
  }
  registered = true;
}

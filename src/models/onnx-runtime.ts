/**
 * The one place gssd loads onnxruntime-node. It is an optional dependency: its install
 * script downloads the CUDA provider on Linux x64, and where that download is not possible
 * npm leaves the package out. Everything that runs an ONNX graph (inference and training)
 * loads it through here, so its absence is one clear message, and `auto` runtimes fall back
 * to TensorFlow.js.
 */
import { createRequire } from 'node:module';
import type * as OrtModule from 'onnxruntime-node';
import { UsageError } from '../errors.js';

/** The onnxruntime-node module. */
export type Ort = typeof OrtModule;

/** How to get ONNX Runtime when it is missing (README "Install"). */
export const ONNX_RUNTIME_HINT =
  'install it with `npm install onnxruntime-node --onnxruntime-node-install=skip` (CPU only; see the README, "Install")';

let loading: Promise<Ort> | undefined;

/**
 * onnxruntime-node, loaded once. Throws a `UsageError` naming `what` when it is not
 * installed or its native binding does not load.
 *
 * @example
 *   const ort = await loadOnnxRuntime('SimCLR step');
 *   const t = new ort.Tensor('float32', data, [n, d]);
 */
export async function loadOnnxRuntime(what = 'ONNX Runtime'): Promise<Ort> {
  loading ??= import('onnxruntime-node').then(
    (m) => (loaded = m as Ort),
    (err: unknown) => {
      loading = undefined;
      throw err;
    },
  );
  try {
    return await loading;
  } catch (err) {
    throw new UsageError(`${what}: onnxruntime-node ${missingReason(err)}; ${ONNX_RUNTIME_HINT}, or run on tfjs (--train-runtime tfjs, --embed-runtime tfjs, --score-runtime tfjs)`);
  }
}

/**
 * Whether onnxruntime-node is installed (resolvable; its binding is loaded only when used).
 *
 * @example
 *   const runtime = onnxRuntimeInstalled() ? 'onnx' : 'tfjs';
 */
export function onnxRuntimeInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('onnxruntime-node');
    return true;
  } catch {
    return false;
  }
}

function missingReason(err: unknown): string {
  const code = (err as { code?: string })?.code;
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return 'is not installed';
  const message = err instanceof Error ? err.message : String(err);
  return `does not load (${message.split('\n')[0]})`;
}

let loaded: Ort | undefined;

/**
 * A tensor for a session opened through `openOnnxSession` (which has loaded the runtime).
 *
 * @example
 *   const out = await session.run({ x: onnxTensor('float32', features, [n, d]) });
 */
export function onnxTensor(type: 'float32', data: Float32Array, dims: readonly number[]): OrtModule.Tensor;
export function onnxTensor(type: 'uint8', data: Uint8Array, dims: readonly number[]): OrtModule.Tensor;
export function onnxTensor(type: 'float32' | 'uint8', data: Float32Array | Uint8Array, dims: readonly number[]): OrtModule.Tensor {
  if (!loaded) throw new Error('onnxTensor: ONNX Runtime is not loaded yet (open a session first)');
  return type === 'uint8' ? new loaded.Tensor('uint8', data as Uint8Array, dims) : new loaded.Tensor('float32', data as Float32Array, dims);
}

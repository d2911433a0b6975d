/**
 * Picks and starts the TensorFlow.js backend the models run on.
 *
 * `auto` tries, in order: `@tensorflow/tfjs-node-gpu`, `@tensorflow/tfjs-node` (both optional,
 * detected by dynamic import because their install needs a download that may have failed),
 * then the WebAssembly backend (SIMD; under Node it runs on one thread), then the pure-JS cpu
 * backend. On wasm it also registers the training kernels of `wasm-kernels.ts`.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { registerWasmTrainingKernels } from './wasm-kernels.js';
import './gradients.js';

export type BackendName = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

let current: Promise<string> | undefined;
let currentRequest: BackendName | undefined;

/**
 * Starts a backend and returns the name of the one actually running (`tensorflow`, `wasm`
 * or `cpu`). Idempotent: a second call with the same request returns the same promise.
 *
 * @example
 *   const name = await initBackend();        // 'wasm' on a machine without tfjs-node
 *   await initBackend('cpu');                // force the pure-JS backend (tests)
 */
export function initBackend(name: BackendName = 'auto'): Promise<string> {
  if (current && currentRequest === name) return current;
  currentRequest = name;
  current = start(name).catch((err: unknown) => {
    current = undefined;
    currentRequest = undefined;
    throw err;
  });
  return current;
}

async function start(name: BackendName): Promise<string> {
  if (name === 'tensorflow' || name === 'auto') {
    if (await tryNative()) return tf.getBackend();
    if (name === 'tensorflow') {
      throw new Error('Backend "tensorflow" needs @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu, neither loads');
    }
  }
  if (name === 'wasm' || name === 'auto') {
    if (await tryWasm()) return 'wasm';
    if (name === 'wasm') throw new Error('The wasm backend failed to start');
  }
  if (!(await tf.setBackend('cpu'))) throw new Error('The cpu backend failed to start');
  await tf.ready();
  // The cpu backend prints advice to install tfjs-node on its first write: library code
  // stays silent.
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  return 'cpu';
}

async function tryNative(): Promise<boolean> {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(pkg);
      if (tf.findBackend('tensorflow') && (await tf.setBackend('tensorflow'))) {
        await tf.ready();
        return true;
      }
    } catch {
      // not installed or its native library is missing: try the next one
    }
  }
  return false;
}

async function tryWasm(): Promise<boolean> {
  try {
    const require = createRequire(import.meta.url);
    const dir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
    // Under Node the threaded build is not used (no Web Workers): the SIMD file is picked
    // when the runtime supports SIMD, the plain one otherwise.
    setWasmPaths(join(dir, '/'));
    if (!(await tf.setBackend('wasm'))) return false;
    await tf.ready();
    registerWasmTrainingKernels();
    return true;
  } catch {
    return false;
  }
}

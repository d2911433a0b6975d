/**
 * The two engines SimCLR pretraining can run on, behind one interface:
 *
 * - `onnx` (the default): the step graph on onnxruntime (`OnnxSimclr`), every core of the CPU
 *   through its intra-op threads, or CUDA when onnxruntime-node's CUDA provider is installed;
 * - `tfjs`: TensorFlow.js (`SimclrTrainer`, data-parallel on worker threads with
 *   `ParallelSimclr` on the wasm and cpu backends): the fallback.
 *
 * Both start from the same seeded weights and save the same checkpoint format, so either
 * can continue the other's run; results differ between engines (other kernels, and
 * `ParallelSimclr` normalises per shard).
 */
import * as tf from '@tensorflow/tfjs-core';
import { OnnxSimclr } from './onnx-simclr.js';
import { ParallelSimclr } from './simclr-parallel.js';
import { SimclrTrainer } from './simclr.js';
import { ResNet } from './resnet.js';
import { loadSimclr, loadSimclrArrays, saveResNet, saveResNetArrays, saveSimclr, saveSimclrArrays, type SimclrConfig } from './save.js';
import type { OnnxProviderRequest } from './onnx-session.js';
import type { TrainMemory } from './onnx-simclr-graph.js';
import { ONNX_RUNTIME_HINT, onnxRuntimeInstalled } from './onnx-runtime.js';
import { UsageError } from '../errors.js';

/** A training runtime as asked for: `auto` is `onnx` (`tfjs` when onnxruntime-node is not installed). */
export type TrainRuntimeRequest = 'auto' | 'onnx' | 'tfjs';
/** The runtimes. */
export const TRAIN_RUNTIMES: readonly TrainRuntimeRequest[] = ['auto', 'onnx', 'tfjs'];

let fellBack = false;

/**
 * The runtime `auto` stands for: `onnx`, or `tfjs` when onnxruntime-node is not installed
 * (said once through `onFallback`). `onnx` without onnxruntime-node is a `UsageError`.
 *
 * @example
 *   resolveTrainRuntime('auto', (m) => log.warn(m));   // 'onnx'
 */
export function resolveTrainRuntime(request: TrainRuntimeRequest, onFallback?: (message: string) => void): 'onnx' | 'tfjs' {
  if (!TRAIN_RUNTIMES.includes(request)) throw new Error(`Expected \`trainRuntime\` to be auto, onnx or tfjs, got \`${String(request)}\``);
  if (request === 'tfjs') return 'tfjs';
  if (onnxRuntimeInstalled()) return 'onnx';
  if (request === 'onnx') throw new UsageError(`--train-runtime onnx: onnxruntime-node is not installed; ${ONNX_RUNTIME_HINT}, or use --train-runtime tfjs`);
  if (!fellBack) onFallback?.(`onnxruntime-node is not installed: training on TensorFlow.js (slower); ${ONNX_RUNTIME_HINT}`);
  fellBack = true;
  return 'tfjs';
}

/** How to open an engine. */
export interface SimclrEngineOptions {
  runtime: 'onnx' | 'tfjs';
  /** onnx: where the graph runs and the CPU's intra-op threads (the results depend on the count). */
  device: OnnxProviderRequest;
  threads: number;
  /** tfjs on wasm/cpu: shards of each batch (`ParallelSimclr`). */
  shards: number;
  /** onnx: `fast` (default) or `low` memory (`TrainMemory`). */
  memory?: TrainMemory;
}

/** One SimCLR trainer, whichever engine. */
export interface SimclrEngine {
  /** `onnx-cpu`, `onnx-cuda`, `tfjs-wasm` (threads) and so on, once known. */
  describe(): string;
  /** One step on two views of n images (view 1 then view 2, normalised NHWC); the loss before it. */
  step(views: Float32Array, n: number): Promise<number>;
  /** Saves the whole trainer (resumable by either engine). */
  save(dir: string): Promise<void>;
  /** Saves the encoder alone (`loadResNet`, `gssd cleanse --encoder`). */
  saveEncoder(dir: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * An engine for `config`, fresh or continuing the trainer saved in `savedDir`.
 *
 * @example
 *   const engine = await openSimclrEngine(config, null, { runtime: 'onnx', device: 'auto', threads: 2, shards: 2 });
 */
export async function openSimclrEngine(config: SimclrConfig, savedDir: string | null, o: SimclrEngineOptions): Promise<SimclrEngine> {
  if (o.runtime === 'onnx') {
    const trainer = await OnnxSimclr.create(config, savedDir ? await loadSimclrArrays(savedDir) : null, { device: o.device, threads: o.threads, memory: o.memory });
    return {
      describe: () => `onnx-${trainer.provider ?? o.device} (${o.threads} threads${o.memory === 'low' ? ', low memory' : ''})`,
      step: (views, n) => trainer.step(views, n),
      save: (dir) => saveSimclrArrays(trainer.arrays(), dir),
      saveEncoder: (dir) => saveResNetArrays(config.encoder, trainer.arrays().encoder, dir),
      close: () => trainer.close(),
    };
  }
  const trainer = savedDir ? await loadSimclr(savedDir) : new SimclrTrainer(new ResNet(config.encoder), config.simclr);
  const backend = tf.getBackend();
  const parallel = backend === 'wasm' || backend === 'cpu' ? await ParallelSimclr.create(trainer, { shards: o.shards, backend }) : null;
  const size = config.encoder.imageSize;
  return {
    describe: () => `tfjs-${backend}${parallel ? ` (${parallel.shards} shards on ${parallel.threads} threads)` : ''}`,
    async step(views, n) {
      const per = n * size * size * 3;
      if (parallel) return parallel.step(views.subarray(0, per), views.subarray(per));
      const [v1, v2] = [views.subarray(0, per), views.subarray(per)].map((v) => tf.tensor4d(v, [n, size, size, 3]));
      try {
        return trainer.step(v1, v2);
      } finally {
        tf.dispose([v1, v2]);
      }
    },
    save: (dir) => saveSimclr(trainer, dir),
    saveEncoder: (dir) => saveResNet(trainer.encoder, dir),
    async close() {
      await parallel?.close();
      trainer.dispose();
      trainer.encoder.dispose();
    },
  };
}

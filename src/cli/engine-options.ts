import { choiceOpt, intOpt, type Option, type OptionGroup } from './option.js';
import { TRAIN_MEMORY } from '../models/onnx-simclr-graph.js';

/** The TF.js backends `--backend` accepts. */
export const BACKEND_NAMES = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;

/**
 * `--backend B` (auto, tensorflow, wasm or cpu; default auto), with the command's help text.
 *
 * @example
 *   const backend = backendOpt('auto, tensorflow, wasm or cpu');   // help "... (default auto)"
 */
export function backendOpt(help: string, shown: { hideDefault?: boolean } = {}): Option<(typeof BACKEND_NAMES)[number]> {
  return choiceOpt('backend', 'B', help, BACKEND_NAMES, { default: 'auto', ...shown });
}

/** The parsed training engine options. */
export interface TrainEngineRequest {
  trainRuntime: 'auto' | 'onnx' | 'tfjs';
  device: 'auto' | 'cpu' | 'cuda';
  threads?: number;
}

const trainRuntime = choiceOpt(
  'train-runtime',
  'R',
  'auto, onnx or tfjs: what trains the networks (default {default} = onnx:\nonnxruntime on every core, or CUDA); a resumed run keeps its runtime',
  ['auto', 'onnx', 'tfjs'] as const,
  { default: 'auto' },
);
const device = choiceOpt(
  'device',
  'D',
  "onnx runtime: auto, cpu or cuda (default {default}: CUDA when onnxruntime-node's\nCUDA provider is installed, else the CPU; cuda fails without it)",
  ['auto', 'cpu', 'cuda'] as const,
  { default: 'auto' },
);
const threads = intOpt(
  'threads',
  'N',
  'onnx runtime on the CPU: intra-op threads (default: the CPU count; the\nresults depend on it, so a resumed run keeps the count it started with)',
  { min: 1, max: 1024 },
);

/**
 * The training engine's options (`--train-runtime`, `--device`, `--threads`), shared by
 * pretrain, cleanse and train.
 *
 * @example
 *   const engine = TRAIN_ENGINE_OPTIONS.read(values);   // { trainRuntime: 'auto', device: 'auto' }
 */
export const TRAIN_ENGINE_OPTIONS: OptionGroup<TrainEngineRequest> = {
  options: [trainRuntime, device, threads],
  read: (v) => {
    const n = threads.read(v);
    return { trainRuntime: trainRuntime.read(v), device: device.read(v), ...(n === undefined ? {} : { threads: n }) };
  },
};


/**
 * `--memory M` (fast or low; default fast): how SimCLR pretraining on the onnx runtime trades
 * memory for time, shared by pretrain and cleanse. A command that reads `low` must start
 * itself again with `LOW_MEMORY_ENV` (`low-memory-env.ts`) before doing any work.
 *
 * @example
 *   if (MEMORY_OPTION.read(values) === 'low' && needsLowMemoryEnv()) return rerunWithEnv(LOW_MEMORY_ENV);
 */
export const MEMORY_OPTION = choiceOpt(
  'memory',
  'M',
  'SimCLR on the onnx runtime: fast or low: one view at a time (separate\nonnxruntime runs) with checkpointed blocks, no memory arena, glibc\nmalloc settings (a child process on Linux): under 1.5 GB at width 64,\nbatch 256, for 1.5-3 times the time per step (README "Performance");\nresume with the same value',
  TRAIN_MEMORY,
  { default: 'fast' },
);

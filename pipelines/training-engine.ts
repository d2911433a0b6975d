import { availableParallelism } from 'node:os';
import { UsageError } from '../src/errors.js';
import { resolveTrainRuntime, type TrainRuntimeRequest } from '../src/models/simclr-engine.js';
import type { Logger } from '../src/log.js';

/**
 * The training runtime and thread count of a run: a resumed run keeps the ones it started
 * with (runs from before the onnx runtime: tfjs), unless asked for another runtime, which is
 * refused; a new run takes the request (`auto` is onnx, or tfjs with a warning on `log` when
 * onnxruntime-node is not installed) and the CPU count.
 *
 * @example
 *   const { trainRuntime, threads } = trainingEngine(state?.settings, { trainRuntime: 'auto' }, 'out');
 */
export function trainingEngine(
  started: { trainRuntime?: 'onnx' | 'tfjs'; threads?: number } | undefined,
  run: { trainRuntime?: TrainRuntimeRequest; threads?: number },
  out: string,
  log?: Logger,
): { trainRuntime: 'onnx' | 'tfjs'; threads: number } {
  const request = run.trainRuntime ?? 'auto';
  if (started) {
    const was = started.trainRuntime ?? 'tfjs';
    if (request !== 'auto' && resolveTrainRuntime(request) !== was) {
      throw new UsageError(`${out}: the run there was started with --train-runtime ${was}; resume it with the same runtime (or leave --train-runtime out)`);
    }
    return { trainRuntime: was, threads: started.threads ?? run.threads ?? availableParallelism() };
  }
  return { trainRuntime: resolveTrainRuntime(request, (message) => log?.warn(message)), threads: run.threads ?? availableParallelism() };
}


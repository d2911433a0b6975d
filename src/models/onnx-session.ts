/**
 * Opening an onnxruntime-node session the way gssd runs its ONNX graphs: CUDA when its
 * provider library loads at run time (and is asked for), else the CPU with `threads`
 * intra-op threads, full graph optimisation, sequential execution.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import { loadOnnxRuntime, type Ort } from './onnx-runtime.js';

/**
 * onnxruntime-node 1.2x+ on Linux and macOS starts a telemetry uploader with the first session:
 * it queues events (session creation, model load, process and system metrics) in
 * `$HOME/.cache/Microsoft/DeveloperTools/.onnxruntime/` (`deviceid`, `onnxruntime.db`) and
 * writes `.ses` and `mat-debug-PID.log` to `$TMPDIR`. Its only switch is an environment
 * variable read when the first session is created (`ORT_DISABLE_TELEMETRY` in 1.30; newer
 * releases read `ORT_TELEMETRY_DISABLED`), so gssd sets both on loading this module, before
 * any session exists. Setting `process.env` on the main thread changes the real process
 * environment, which worker threads and the native library share.
 */
export function disableOnnxTelemetry(): void {
  process.env.ORT_DISABLE_TELEMETRY = '1';
  process.env.ORT_TELEMETRY_DISABLED = '1';
}
disableOnnxTelemetry();

/** Where the model runs: `auto` tries CUDA then falls back to the CPU silently. */
export type OnnxProviderRequest = 'auto' | 'cuda' | 'cpu';

/** The provider names accepted in options. */
export const ONNX_PROVIDERS: readonly OnnxProviderRequest[] = ['auto', 'cuda', 'cpu'];

/** Less common session settings. */
export interface OnnxSessionTuning {
  /**
   * Whether idle intra-op threads spin (onnxruntime's default, true): the lowest latency on
   * an otherwise idle machine; false yields the cores at once, far better when other
   * processes or threads compete for them.
   */
  spinning?: boolean;
  /**
   * onnxruntime's memory pattern (default true): from the second run on, one block laid out
   * from the first run's allocations. For the training steps it comes on top of what the
   * first run left in the arena, about doubling the peak (1.7 GB against 0.95 GB for a
   * SimCLR step at width 16, batch 256), for no measurable speed: they turn it off.
   */
  memPattern?: boolean;
  /**
   * onnxruntime's CPU memory arena (default true): tensors come from large blocks it keeps
   * for the session's life, so the blocks' free gaps stay resident. False allocates each
   * tensor through malloc and frees it back: with glibc's mmap threshold fixed low
   * (`MALLOC_MMAP_THRESHOLD_`, `low-memory-env.ts`) a freed tensor leaves the RSS, for the
   * cost of faulting its pages in again on every step (README "Performance").
   */
  arena?: boolean;
}

/**
 * The session on CUDA when asked for and available, else on the CPU. `where` names the
 * model in error messages. Internal: left out of the published types, which then need no
 * onnxruntime-node (an optional dependency).
 *
 * @internal
 *
 * @example
 *   const { session, provider } = await openOnnxSession(bytes, 'auto', availableParallelism(), 'encoder.onnx');
 */
export async function openOnnxSession(
  bytes: Uint8Array,
  request: OnnxProviderRequest,
  threads: number,
  where: string,
  tuning: OnnxSessionTuning = {},
): Promise<{ session: ort.InferenceSession; provider: 'cuda' | 'cpu'; ort: Ort }> {
  disableOnnxTelemetry(); // again, in case a caller's code changed the environment since
  if (!ONNX_PROVIDERS.includes(request)) throw new Error(`Expected \`provider\` to be auto, cuda or cpu, got \`${String(request)}\``);
  const ort = await loadOnnxRuntime(where);
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  };
  if (tuning.spinning !== undefined) base.extra = { session: { intra_op: { allow_spinning: tuning.spinning ? '1' : '0' } } };
  if (tuning.memPattern === false) base.enableMemPattern = false;
  if (tuning.arena === false) base.enableCpuMemArena = false;
  if (request !== 'cpu' && cudaInstalled(ort)) {
    try {
      const session = await ort.InferenceSession.create(bytes, { ...base, executionProviders: ['cuda'], logSeverityLevel: 4 });
      return { session, provider: 'cuda', ort };
    } catch (err) {
      if (request === 'cuda') throw new Error(`${where}: the CUDA execution provider is not available (${firstLine(err)})`, { cause: err });
    }
  } else if (request === 'cuda') {
    throw new Error(`${where}: onnxruntime-node has no CUDA execution provider installed (its CUDA files were not downloaded)`);
  }
  try {
    return { session: await ort.InferenceSession.create(bytes, { ...base, executionProviders: ['cpu'] }), provider: 'cpu', ort };
  } catch (err) {
    throw new Error(`${where}: onnxruntime cannot load the model (${firstLine(err)})`, { cause: err });
  }
}

/**
 * Whether onnxruntime-node's CUDA provider library is on disk: its install script downloads
 * it separately (skipped on machines without that access). Without it, asking for CUDA
 * makes onnxruntime print an error before failing, so it is not asked.
 */
function cudaInstalled(ort: Ort): boolean {
  if (!ort.listSupportedBackends().some((b) => b.name === 'cuda')) return false;
  try {
    const pkg = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
    const dir = join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(join(dir, 'libonnxruntime_providers_cuda.so')) || existsSync(join(dir, 'onnxruntime_providers_cuda.dll'));
  } catch {
    return false;
  }
}

/**
 * The first line of an error's message.
 *
 * @example
 *   throw new Error(`cannot read (${firstLine(err)})`, { cause: err });
 */
export function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split('\n')[0];
}

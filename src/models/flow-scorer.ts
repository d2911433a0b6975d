/**
 * Who computes the n x K flow log-likelihoods of the score pass: ONNX Runtime (the flows
 * exported as one graph, multi-threaded native kernels, CUDA when present) or TensorFlow.js
 * (`FlowBank.logProb`). The two agree to ~1e-5; a run keeps one for all its rows.
 */
import type { FlowBank } from './flow-bank.js';
import { OnnxFlowScorer } from './onnx-flow-scorer.js';

/** `auto` prefers ONNX Runtime and falls back to TensorFlow.js when it does not load. */
export type ScoreRuntime = 'auto' | 'onnx' | 'tfjs';

/** n x K per-dimension log-likelihoods of standardised rows, as `FlowBank.logProb`. */
export interface FlowScorer {
  /** `onnx-cpu`, `onnx-cuda` or `tfjs`. */
  readonly runtime: string;
  readonly numClasses: number;
  readonly dim: number;
  logProb(features: Float32Array, n: number): Promise<Float32Array>;
  /** Releases the runtime's resources (not the bank's tensors). */
  close(): Promise<void>;
}

/**
 * A scorer of `bank`'s current flows on the requested runtime.
 *
 * @example
 *   const scorer = await openFlowScorer(bank, 'auto');
 *   const L = await scorer.logProb(features, n);   // L[i * K + c]
 *   await scorer.close();
 */
export async function openFlowScorer(bank: FlowBank, runtime: ScoreRuntime = 'auto'): Promise<FlowScorer> {
  if (runtime !== 'tfjs') {
    try {
      const onnx = await OnnxFlowScorer.create(bank);
      return {
        runtime: `onnx-${onnx.provider}`,
        numClasses: bank.numClasses,
        dim: bank.dim,
        logProb: (features, n) => onnx.logProb(features, n),
        close: () => onnx.close(),
      };
    } catch (err) {
      if (runtime === 'onnx') throw new Error(`ONNX Runtime could not score the flows: ${(err as Error).message}`, { cause: err });
    }
  }
  return {
    runtime: 'tfjs',
    numClasses: bank.numClasses,
    dim: bank.dim,
    logProb: async (features, n) => bank.logProb(features, n),
    close: async () => {},
  };
}

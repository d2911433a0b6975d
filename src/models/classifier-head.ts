/**
 * The final classifier's linear head at initialisation: PyTorch's Linear init
 * U(-1/sqrt(d), 1/sqrt(d)) for the weight [d, K] and the bias [K], seeded by `${seed}:head`.
 * Shared by both training engines.
 */
import { Rng } from '../rng.js';

/**
 * The head's weight [d x K] (row-major) and bias [K].
 *
 * @example
 *   const { weight, bias } = classifierHeadInitial(128, 10, 0);
 */
export function classifierHeadInitial(d: number, k: number, seed: number): { weight: Float32Array; bias: Float32Array } {
  const rng = new Rng(`${seed}:head`);
  const bound = 1 / Math.sqrt(d);
  const weight = new Float32Array(d * k).map(() => rng.uniform(-bound, bound));
  const bias = new Float32Array(k).map(() => rng.uniform(-bound, bound));
  return { weight, bias };
}

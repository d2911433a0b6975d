/**
 * The SimCLR projection head's initial weights (docs/method.md, step 1: Linear(8w, 8w, no bias) ->
 * ReLU -> Linear(8w, projDim, no bias)), PyTorch's Linear init U(-1/sqrt(fan_in),
 * 1/sqrt(fan_in)), seeded; [in, out] matrices. Shared by both training engines.
 */
import { Rng } from '../rng.js';

/**
 * The head's two matrices, [d x d] and [d x projDim], row-major.
 *
 * @example
 *   const [w1, w2] = simclrHeadInitial(128, 128, 1);
 */
export function simclrHeadInitial(d: number, projDim: number, seed: number): [Float32Array, Float32Array] {
  const rng = new Rng(seed);
  const linear = (inD: number, outD: number): Float32Array => {
    const b = 1 / Math.sqrt(inD);
    return new Float32Array(inD * outD).map(() => rng.uniform(-b, b));
  };
  return [linear(d, d), linear(d, projDim)];
}

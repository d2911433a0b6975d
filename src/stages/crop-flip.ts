/**
 * The classifier's training augmentation (docs/method.md, step 7), as torchvision's
 * `RandomCrop(size, padding=4)` + `RandomHorizontalFlip(0.5)`: each image is zero-padded by
 * `padding` pixels on every side, a size x size window is cut at a random offset in
 * [0, 2 x padding] on each axis, mirrored left-right with probability 0.5, then normalised
 * with the CIFAR mean and std. Works on uint8 NHWC RGB batches, seeded by `Rng` (per image:
 * top, left, then the flip draw), plain JS, exactly reproducible.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../rng.js';
import { CIFAR_MEAN, CIFAR_STD } from './augment.js';

export interface CropFlipOptions {
  /** Zero padding on each side before cropping. Default 4. */
  padding?: number;
  /** Probability of the horizontal flip. Default 0.5. */
  flipP?: number;
}

/**
 * One random crop + flip of each of `n` uint8 RGB images (size x size x 3, back to back), as
 * a normalised float tensor [n, size, size, 3].
 *
 * @example
 *   const rng = new Rng(`${seed}:crop:${step}`);
 *   const x = cropFlip(pixels, 128, 32, rng);   // Tensor4D [128, 32, 32, 3]
 */
export function cropFlip(pixels: Uint8Array, n: number, size: number, rng: Rng, options: CropFlipOptions = {}): tf.Tensor4D {
  return tf.tensor4d(cropFlipToArray(pixels, n, size, rng, options), [n, size, size, 3]);
}

/**
 * `cropFlip` to a plain Float32Array (n x size x size x 3, normalised, RGB interleaved).
 *
 * @example
 *   const x = cropFlipToArray(pixels, 16, 32, new Rng(1), { padding: 4 });
 */
export function cropFlipToArray(pixels: Uint8Array, n: number, size: number, rng: Rng, options: CropFlipOptions = {}): Float32Array {
  const pad = options.padding ?? 4;
  const flipP = options.flipP ?? 0.5;
  if (!Number.isInteger(pad) || pad < 0) throw new Error(`Expected \`padding\` to be an integer from 0 and up, got \`${pad}\``);
  const per = size * size * 3;
  if (pixels.length < n * per) throw new Error(`Expected ${n} images of ${size}x${size}x3 bytes, got ${pixels.length} bytes`);
  const a = CIFAR_STD.map((s) => 1 / (255 * s));
  const b = CIFAR_MEAN.map((m, c) => -m / CIFAR_STD[c]);
  const out = new Float32Array(n * per);
  for (let k = 0; k < n; k++) {
    // torchvision: i = randint(0, H + 2p - size + 1), j likewise, then the flip draw
    const top = rng.int(2 * pad + 1) - pad;
    const left = rng.int(2 * pad + 1) - pad;
    const flip = rng.next() < flipP;
    const src = k * per;
    for (let y = 0; y < size; y++) {
      const sy = y + top;
      const rowOut = k * per + y * size * 3;
      for (let x = 0; x < size; x++) {
        const sx = (flip ? size - 1 - x : x) + left;
        const o = rowOut + x * 3;
        if (sy < 0 || sy >= size || sx < 0 || sx >= size) {
          out[o] = b[0];
          out[o + 1] = b[1];
          out[o + 2] = b[2];
        } else {
          const i = src + (sy * size + sx) * 3;
          out[o] = pixels[i] * a[0] + b[0];
          out[o + 1] = pixels[i + 1] * a[1] + b[1];
          out[o + 2] = pixels[i + 2] * a[2] + b[2];
        }
      }
    }
  }
  return out;
}

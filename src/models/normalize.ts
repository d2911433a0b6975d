/**
 * The encoders' input normalisation: (x / 255 - mean) / std per channel with the CIFAR-10
 * statistics, on uint8 NHWC RGB pixels. Models own it (the ONNX export bakes it in); the
 * augment stage re-exports it.
 */
import * as tf from '@tensorflow/tfjs-core';

/** CIFAR-10 channel means (RGB, on [0, 1] pixels). */
export const CIFAR_MEAN = [0.4914, 0.4822, 0.4465] as const;
/** CIFAR-10 channel standard deviations. */
export const CIFAR_STD = [0.2023, 0.1994, 0.201] as const;

/**
 * Normalised float NHWC tensor of `n` uint8 RGB images (size x size x 3, back to back), no
 * augmentation: (x / 255 - mean) / std with the CIFAR statistics. Used for extraction.
 *
 * @example
 *   const x = normalize(pixels, 64, 32);   // Tensor4D [64, 32, 32, 3]
 */
export function normalize(pixels: Uint8Array, n: number, size: number): tf.Tensor4D {
  const len = n * size * size * 3;
  if (pixels.length < len) throw new Error(`Expected ${n} images of ${size}x${size}x3 bytes, got ${pixels.length} bytes`);
  return tf.tensor4d(normalizeToArray(pixels.subarray(0, len)), [n, size, size, 3]);
}

/**
 * `normalize` to a plain Float32Array (same length as `pixels`, RGB interleaved).
 *
 * @example
 *   const x = normalizeToArray(pixels);
 */
export function normalizeToArray(pixels: Uint8Array): Float32Array {
  const out = new Float32Array(pixels.length);
  const a = CIFAR_STD.map((s) => 1 / (255 * s));
  const b = CIFAR_MEAN.map((m, c) => -m / CIFAR_STD[c]);
  for (let i = 0; i < pixels.length; i += 3) {
    out[i] = pixels[i] * a[0] + b[0];
    out[i + 1] = pixels[i + 1] * a[1] + b[1];
    out[i + 2] = pixels[i + 2] * a[2] + b[2];
  }
  return out;
}

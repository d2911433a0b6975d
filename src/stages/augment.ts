/**
 * The SimCLR augmentations of the paper (docs/method.md, step 1), on batches of uint8 NHWC RGB
 * images, seeded by `Rng`: RandomResizedCrop(scale 0.08-1, ratio 3/4-4/3, bilinear),
 * horizontal flip p=0.5, colour jitter (brightness 0.8, contrast 0.8, saturation 0.8,
 * hue 0.2; the four in a random order, as torchvision does) with p=0.8, grayscale p=0.2,
 * then normalisation with the CIFAR mean and std. No blur. The per-pixel work is plain JS
 * (cheap next to the encoder, and exactly reproducible); the result is one tensor.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../rng.js';

export { CIFAR_MEAN, CIFAR_STD, normalize, normalizeToArray } from '../models/normalize.js';
import { CIFAR_MEAN, CIFAR_STD } from '../models/normalize.js';

export interface AugmentOptions {
  /** Output side. Default: the input side. */
  outSize?: number;
  /** RandomResizedCrop area range. Default [0.08, 1]. */
  scale?: [number, number];
  /** RandomResizedCrop aspect-ratio range. Default [3/4, 4/3]. */
  ratio?: [number, number];
  /** Jitter strengths. Defaults: brightness, contrast, saturation 0.8, hue 0.2. */
  brightness?: number;
  contrast?: number;
  saturation?: number;
  hue?: number;
  /** Probability of the colour jitter. Default 0.8. */
  jitterP?: number;
  /** Probability of grayscale. Default 0.2. */
  grayP?: number;
}


/**
 * One independently augmented, normalised view of each of `n` uint8 RGB images.
 *
 * @example
 *   const rng = new Rng(7);
 *   const v1 = augment(pixels, 256, 32, rng);   // Tensor4D [256, 32, 32, 3]
 *   const v2 = augment(pixels, 256, 32, rng);   // a second, different view
 */
export function augment(pixels: Uint8Array, n: number, size: number, rng: Rng, options: AugmentOptions = {}): tf.Tensor4D {
  const out = options.outSize ?? size;
  return tf.tensor4d(augmentToArray(pixels, n, size, rng, options), [n, out, out, 3]);
}

/** `augment` as a Float32Array (n x out x out x 3, normalised). */
export function augmentToArray(pixels: Uint8Array, n: number, size: number, rng: Rng, options: AugmentOptions = {}): Float32Array {
  const S = options.outSize ?? size;
  const [smin, smax] = options.scale ?? [0.08, 1];
  const [rmin, rmax] = options.ratio ?? [3 / 4, 4 / 3];
  const bri = options.brightness ?? 0.8;
  const con = options.contrast ?? 0.8;
  const sat = options.saturation ?? 0.8;
  const hue = options.hue ?? 0.2;
  const jitterP = options.jitterP ?? 0.8;
  const grayP = options.grayP ?? 0.2;
  const per = size * size * 3;
  if (pixels.length < n * per) throw new Error(`Expected ${n} images of ${size}x${size}x3 bytes, got ${pixels.length} bytes`);
  const result = new Float32Array(n * S * S * 3);
  const img = new Float32Array(S * S * 3);
  const scale = CIFAR_STD.map((s) => 1 / s);
  for (let k = 0; k < n; k++) {
    const [top, left, h, w] = cropBox(size, size, smin, smax, rmin, rmax, rng);
    const flip = rng.next() < 0.5;
    resizedCrop(pixels.subarray(k * per, (k + 1) * per), size, top, left, h, w, S, flip, img);
    if (rng.next() < jitterP) {
      const order = rng.shuffle([0, 1, 2, 3]);
      const fb = rng.uniform(Math.max(0, 1 - bri), 1 + bri);
      const fc = rng.uniform(Math.max(0, 1 - con), 1 + con);
      const fs = rng.uniform(Math.max(0, 1 - sat), 1 + sat);
      const fh = rng.uniform(-hue, hue);
      for (const op of order) {
        if (op === 0) adjustBrightness(img, fb);
        else if (op === 1) adjustContrast(img, fc);
        else if (op === 2) adjustSaturation(img, fs);
        else adjustHue(img, fh);
      }
    }
    if (rng.next() < grayP) toGray(img);
    const o = k * S * S * 3;
    for (let i = 0; i < img.length; i += 3) {
      result[o + i] = (img[i] - CIFAR_MEAN[0]) * scale[0];
      result[o + i + 1] = (img[i + 1] - CIFAR_MEAN[1]) * scale[1];
      result[o + i + 2] = (img[i + 2] - CIFAR_MEAN[2]) * scale[2];
    }
  }
  return result;
}

/** torchvision RandomResizedCrop.get_params: [top, left, height, width]. */
function cropBox(H: number, W: number, smin: number, smax: number, rmin: number, rmax: number, rng: Rng): [number, number, number, number] {
  const area = H * W;
  const lo = Math.log(rmin);
  const hi = Math.log(rmax);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniform(smin, smax);
    const ar = Math.exp(rng.uniform(lo, hi));
    const w = Math.round(Math.sqrt(target * ar));
    const h = Math.round(Math.sqrt(target / ar));
    if (w > 0 && w <= W && h > 0 && h <= H) return [rng.int(H - h + 1), rng.int(W - w + 1), h, w];
  }
  // fallback: central crop at the nearest allowed ratio
  const inRatio = W / H;
  let w = W;
  let h = H;
  if (inRatio < rmin) h = Math.round(w / rmin);
  else if (inRatio > rmax) w = Math.round(h * rmax);
  return [Math.floor((H - h) / 2), Math.floor((W - w) / 2), h, w];
}

/** Bilinear resize (align_corners = false) of a crop to S x S, values in [0, 1]. */
function resizedCrop(src: Uint8Array, size: number, top: number, left: number, h: number, w: number, S: number, flip: boolean, out: Float32Array): void {
  const sy = h / S;
  const sx = w / S;
  for (let y = 0; y < S; y++) {
    let fy = (y + 0.5) * sy - 0.5;
    if (fy < 0) fy = 0;
    const y0 = Math.min(Math.floor(fy), h - 1);
    const y1 = Math.min(y0 + 1, h - 1);
    const wy = fy - y0;
    for (let x = 0; x < S; x++) {
      let fx = (x + 0.5) * sx - 0.5;
      if (fx < 0) fx = 0;
      const x0 = Math.min(Math.floor(fx), w - 1);
      const x1 = Math.min(x0 + 1, w - 1);
      const wx = fx - x0;
      const r0 = (top + y0) * size;
      const r1 = (top + y1) * size;
      const a = (r0 + left + x0) * 3;
      const b = (r0 + left + x1) * 3;
      const c = (r1 + left + x0) * 3;
      const d = (r1 + left + x1) * 3;
      const o = (y * S + (flip ? S - 1 - x : x)) * 3;
      for (let ch = 0; ch < 3; ch++) {
        const top2 = src[a + ch] + (src[b + ch] - src[a + ch]) * wx;
        const bot = src[c + ch] + (src[d + ch] - src[c + ch]) * wx;
        out[o + ch] = (top2 + (bot - top2) * wy) / 255;
      }
    }
  }
}

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

function adjustBrightness(img: Float32Array, f: number): void {
  for (let i = 0; i < img.length; i++) img[i] = clamp01(img[i] * f);
}

function gray(img: Float32Array, i: number): number {
  return 0.2989 * img[i] + 0.587 * img[i + 1] + 0.114 * img[i + 2];
}

function adjustContrast(img: Float32Array, f: number): void {
  let mean = 0;
  for (let i = 0; i < img.length; i += 3) mean += gray(img, i);
  mean /= img.length / 3;
  for (let i = 0; i < img.length; i++) img[i] = clamp01(f * img[i] + (1 - f) * mean);
}

function adjustSaturation(img: Float32Array, f: number): void {
  for (let i = 0; i < img.length; i += 3) {
    const g = gray(img, i);
    for (let c = 0; c < 3; c++) img[i + c] = clamp01(f * img[i + c] + (1 - f) * g);
  }
}

/** Hue rotation by f (a fraction of the colour circle) through HSV, as torchvision. */
function adjustHue(img: Float32Array, f: number): void {
  for (let i = 0; i < img.length; i += 3) {
    const r = img[i];
    const g = img[i + 1];
    const b = img[i + 2];
    const max = Math.max(r, g, b);
    const min = Math.min(r, g, b);
    const delta = max - min;
    if (delta === 0) continue; // grey: hue is undefined and unchanged
    let hh: number;
    if (max === r) hh = ((g - b) / delta) % 6;
    else if (max === g) hh = (b - r) / delta + 2;
    else hh = (r - g) / delta + 4;
    hh = hh / 6 + f;
    hh -= Math.floor(hh);
    const s = delta / max;
    const v = max;
    const h6 = hh * 6;
    const sector = Math.floor(h6) % 6;
    const frac = h6 - Math.floor(h6);
    const p = v * (1 - s);
    const q = v * (1 - s * frac);
    const t = v * (1 - s * (1 - frac));
    const rgb =
      sector === 0 ? [v, t, p] : sector === 1 ? [q, v, p] : sector === 2 ? [p, v, t] : sector === 3 ? [p, q, v] : sector === 4 ? [t, p, v] : [v, p, q];
    img[i] = rgb[0];
    img[i + 1] = rgb[1];
    img[i + 2] = rgb[2];
  }
}

function toGray(img: Float32Array): void {
  for (let i = 0; i < img.length; i += 3) {
    const g = gray(img, i);
    img[i] = g;
    img[i + 1] = g;
    img[i + 2] = g;
  }
}

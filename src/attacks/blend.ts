import { Rng } from '../rng.js';
import { checkImage, type Attack } from './attack.js';
import { resizeBilinear, smoothTexture, toByte } from './image.js';

/**
 * A fixed seeded 32 px pattern, resized (bilinear) to `size`, cached per size.
 *
 * @example
 *   const at = patternAtSize(smoothTexture(new Rng('x'), 32)); at(224); // Float64Array
 */
export function patternAtSize(pattern32: Float64Array): (size: number) => Float64Array {
  const cache = new Map<number, Float64Array>();
  return (size) => {
    let p = cache.get(size);
    if (!p) {
      p = resizeBilinear(pattern32, 32, size, 3);
      cache.set(size, p);
    }
    return p;
  };
}

/**
 * The Blend attack (docs/method.md): image = (1 - 0.1) * image + 0.1 * pattern, with a fixed
 * seeded smooth colour texture (32 px, resized for other sizes) standing in for the
 * reference's cartoon picture. Rounded to the nearest byte.
 *
 * @example
 *   makeBlend(0).apply(pixels, 32, rng);
 */
export function makeBlend(patternSeed = 0, weight = 0.1): Attack {
  const pattern = patternAtSize(smoothTexture(new Rng(`blend:${patternSeed}`), 32));
  const apply = (pixels: Uint8Array, size: number): Uint8Array => {
    checkImage(pixels, size);
    const p = pattern(size);
    const out = new Uint8Array(pixels.length);
    for (let i = 0; i < pixels.length; i++) out[i] = toByte((1 - weight) * pixels[i] + weight * p[i]);
    return out;
  };
  return {
    name: 'blend',
    dirtyLabel: true,
    rate: 0.1,
    apply,
    applyTest: apply,
    triggerPattern(size = 32) {
      return { pixels: Uint8Array.from(pattern(size), toByte), size };
    },
  };
}

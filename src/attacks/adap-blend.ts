import { Rng } from '../rng.js';
import { checkImage, type Attack } from './attack.js';
import { smoothTexture, toByte } from './image.js';
import { patternAtSize } from './blend.js';

/**
 * `count` distinct indices of [0, n), uniformly, by a partial Fisher-Yates shuffle.
 *
 * @example
 *   pickSubset(new Rng(1), 16, 8); // e.g. [3, 11, 0, ...] (8 of 16)
 */
export function pickSubset(rng: Rng, n: number, count: number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + rng.int(n - i);
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, count);
}

/**
 * Adap-Blend (Qi et al., ICLR 2023): blend weight 0.2 with a fixed seeded pattern cut into a
 * 4 x 4 grid of 16 pieces; each poisoned or cover sample gets a random half of the pieces
 * (8 of 16, from the per-sample `rng`), the other pixels are left unchanged. The test-time
 * trigger is the whole pattern at the same weight. Poison rate 1% plus 1% cover rows.
 *
 * @example
 *   makeAdapBlend(0).apply(pixels, 32, rowRng);
 */
export function makeAdapBlend(patternSeed = 0, weight = 0.2, grid = 4): Attack {
  const pattern = patternAtSize(smoothTexture(new Rng(`adap-blend:${patternSeed}`), 32));
  const blend = (pixels: Uint8Array, size: number, pieces: Set<number> | null) => {
    checkImage(pixels, size);
    const p = pattern(size);
    const out = pixels.slice();
    for (let y = 0; y < size; y++) {
      const py = Math.floor((y * grid) / size);
      for (let x = 0; x < size; x++) {
        if (pieces && !pieces.has(py * grid + Math.floor((x * grid) / size))) continue;
        for (let c = 0; c < 3; c++) {
          const i = (y * size + x) * 3 + c;
          out[i] = toByte((1 - weight) * pixels[i] + weight * p[i]);
        }
      }
    }
    return out;
  };
  return {
    name: 'adap-blend',
    dirtyLabel: true,
    rate: 0.01,
    coverRate: 0.01,
    apply: (pixels, size, rng) => blend(pixels, size, new Set(pickSubset(rng, grid * grid, (grid * grid) >> 1))),
    applyTest: (pixels, size) => blend(pixels, size, null),
    triggerPattern(size = 32) {
      return { pixels: Uint8Array.from(pattern(size), toByte), size };
    },
  };
}

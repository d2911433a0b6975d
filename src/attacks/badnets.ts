import { Rng } from '../rng.js';
import { checkImage, type Attack } from './attack.js';
import { scalePatch } from './image.js';

/** Where the BadNets patch goes in a `size` px image: top-left corner and side. */
export interface PatchPlace {
  row: number;
  col: number;
  side: number;
}

/**
 * BadNets placement: for 32 px a 2x2 patch at rows/cols 4-5; other sizes below 224 scale
 * position and side proportionally (side >= 2); 224 px and up: a 32/224-of-the-side
 * (32 px at 224) logo-like patch at the top-left corner.
 *
 * @example
 *   badnetsPlace(32);  // { row: 4, col: 4, side: 2 }
 *   badnetsPlace(224); // { row: 0, col: 0, side: 32 }
 */
export function badnetsPlace(size: number): PatchPlace {
  if (size >= 224) return { row: 0, col: 0, side: Math.round((32 * size) / 224) };
  const side = Math.max(2, Math.round((2 * size) / 32));
  const pos = Math.min(Math.round((4 * size) / 32), size - side);
  return { row: pos, col: pos, side };
}

/**
 * The BadNets attack (docs/method.md): a patch of fixed random colours (seeded by `patternSeed`)
 * pasted opaquely. The small-image patch is 2x2 colours; the 224 px one a 4x4 grid of
 * random colour blocks (logo-like), both nearest-scaled to the side.
 *
 * @example
 *   const attack = makeBadnets(0);
 *   const poisoned = attack.apply(pixels, 32, rng); // only rows/cols 4-5 change
 */
export function makeBadnets(patternSeed = 0): Attack {
  const rng = new Rng(`badnets:${patternSeed}`);
  const small = Uint8Array.from({ length: 2 * 2 * 3 }, () => rng.int(256));
  const logo = Uint8Array.from({ length: 4 * 4 * 3 }, () => rng.int(256));
  const patchFor = (size: number) => {
    const place = badnetsPlace(size);
    return { place, patch: size >= 224 ? scalePatch(logo, 4, place.side) : scalePatch(small, 2, place.side) };
  };
  const apply = (pixels: Uint8Array, size: number): Uint8Array => {
    checkImage(pixels, size);
    const { place, patch } = patchFor(size);
    const out = pixels.slice();
    for (let y = 0; y < place.side; y++) {
      out.set(patch.subarray(y * place.side * 3, (y + 1) * place.side * 3), ((place.row + y) * size + place.col) * 3);
    }
    return out;
  };
  return {
    name: 'badnets',
    dirtyLabel: true,
    rate: 0.1,
    apply,
    applyTest: apply,
    triggerPattern(size = 32) {
      return { pixels: apply(new Uint8Array(size * size * 3), size), size };
    },
  };
}

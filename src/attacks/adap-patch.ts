import { Rng } from '../rng.js';
import { checkImage, type Attack } from './attack.js';
import { pickSubset } from './adap-blend.js';

/** A small square patch: top-left corner, side and its colours (side x side x 3 bytes). */
export interface SmallPatch {
  row: number;
  col: number;
  side: number;
  colours: Uint8Array;
}

/**
 * The Adap-Patch patches for a `size` px image: `count` patches of side round(3 size / 32)
 * (>= 2), at fixed seeded positions that do not overlap, with fixed seeded random colours.
 *
 * @example
 *   adapPatches(0, 32); // 4 patches of 3x3
 */
export function adapPatches(patternSeed: number, size: number, count = 4): SmallPatch[] {
  const rng = new Rng(`adap-patch:${patternSeed}:${size}`);
  const side = Math.max(2, Math.round((3 * size) / 32));
  const patches: SmallPatch[] = [];
  for (let tries = 0; patches.length < count && tries < 10_000; tries++) {
    const row = rng.int(size - side + 1);
    const col = rng.int(size - side + 1);
    const clash = patches.some((p) => row < p.row + side + 1 && p.row < row + side + 1 && col < p.col + side + 1 && p.col < col + side + 1);
    if (clash) continue;
    patches.push({ row, col, side, colours: Uint8Array.from({ length: side * side * 3 }, () => rng.int(256)) });
  }
  return patches;
}

/**
 * Adap-Patch (Qi et al., ICLR 2023): 4 small opaque patches at fixed seeded positions; each
 * poisoned or cover sample gets a random half of them (2 of 4, from the per-sample `rng`);
 * the test-time trigger has all 4. Poison rate 1% plus 1% cover rows.
 *
 * @example
 *   makeAdapPatch(0).apply(pixels, 32, rowRng);
 */
export function makeAdapPatch(patternSeed = 0, count = 4): Attack {
  const cache = new Map<number, SmallPatch[]>();
  const patchesFor = (size: number) => {
    let p = cache.get(size);
    if (!p) {
      p = adapPatches(patternSeed, size, count);
      cache.set(size, p);
    }
    return p;
  };
  const paste = (pixels: Uint8Array, size: number, which: number[] | null) => {
    checkImage(pixels, size);
    const patches = patchesFor(size);
    const out = pixels.slice();
    for (const [i, p] of patches.entries()) {
      if (which && !which.includes(i)) continue;
      for (let y = 0; y < p.side; y++) out.set(p.colours.subarray(y * p.side * 3, (y + 1) * p.side * 3), ((p.row + y) * size + p.col) * 3);
    }
    return out;
  };
  return {
    name: 'adap-patch',
    dirtyLabel: true,
    rate: 0.01,
    coverRate: 0.01,
    apply: (pixels, size, rng) => paste(pixels, size, pickSubset(rng, patchesFor(size).length, patchesFor(size).length >> 1)),
    applyTest: (pixels, size) => paste(pixels, size, null),
    triggerPattern(size = 32) {
      return { pixels: paste(new Uint8Array(size * size * 3), size, null), size };
    },
  };
}

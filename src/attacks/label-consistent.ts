import { checkImage, type Attack } from './attack.js';

/** Side of one corner checkerboard of the Label-Consistent trigger at `size` px (3 at 32 px). */
export function lcTriggerSide(size: number): number {
  return Math.max(3, Math.round((3 * size) / 32));
}

/**
 * The Label-Consistent attack's trigger (Turner, Tsipras and Madry, 2019): a black-and-white
 * checkerboard (3 x 3 cells at 32 px, scaled with the image) in each of the four corners, at
 * full amplitude. Clean-label: the poisoned rows are target-class rows that keep their label;
 * what makes the model learn the trigger is that they are first made hard to classify by an
 * adversarial perturbation (`pgdPerturb`, run by `gssd poison --attack lc --lc-model`). This
 * object is the trigger alone: `apply` and `applyTest` stamp it, `rate` is the share of the
 * target class's rows to poison (default 0.5).
 *
 * @example
 *   const lc = makeLabelConsistent();
 *   const poisoned = lc.apply(pgdPerturbed, 32, rng); // the trigger on the perturbed image
 */
export function makeLabelConsistent(_patternSeed = 0): Attack {
  const apply = (pixels: Uint8Array, size: number): Uint8Array => {
    checkImage(pixels, size);
    const side = lcTriggerSide(size);
    const cell = side / 3;
    const out = pixels.slice();
    for (const [r0, c0] of [[0, 0], [0, size - side], [size - side, 0], [size - side, size - side]]) {
      for (let y = 0; y < side; y++) {
        for (let x = 0; x < side; x++) {
          // the corner cell of each checkerboard is white, its neighbours black
          const v = (Math.floor(y / cell) + Math.floor(x / cell)) % 2 === 0 ? 255 : 0;
          out.fill(v, ((r0 + y) * size + c0 + x) * 3, ((r0 + y) * size + c0 + x) * 3 + 3);
        }
      }
    }
    return out;
  };
  return {
    name: 'lc',
    dirtyLabel: false,
    rate: 0.5,
    apply,
    applyTest: apply,
    triggerPattern(size = 32) {
      return { pixels: apply(new Uint8Array(size * size * 3).fill(128), size), size };
    },
  };
}

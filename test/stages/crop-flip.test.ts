import { describe, expect, it } from 'vitest';
import { cropFlipToArray } from '../../src/stages/crop-flip.js';
import { normalizeToArray } from '../../src/stages/augment.js';
import { Rng } from '../../src/rng.js';

/** An image whose pixel (y, x) is [y, x, 200]: every pixel says where it came from. */
function coordinateImage(size: number): Uint8Array {
  const px = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) px.set([y, x, 200], (y * size + x) * 3);
  }
  return px;
}

/** Back from normalised floats to the uint8 pixel values. */
function denormalize(values: Float32Array): Uint8Array {
  const zero = normalizeToArray(new Uint8Array([0, 0, 0]));
  const one = normalizeToArray(new Uint8Array([1, 1, 1]));
  return Uint8Array.from(values, (v, i) => Math.round((v - zero[i % 3]) / (one[i % 3] - zero[i % 3])));
}

describe('cropFlip', () => {
  const size = 12;
  const img = coordinateImage(size);

  it('keeps the content shifted by at most the padding, zero outside, mirrored when flipped', () => {
    const rng = new Rng(5);
    const n = 64;
    const batch = new Uint8Array(n * img.length);
    for (let k = 0; k < n; k++) batch.set(img, k * img.length);
    const out = denormalize(cropFlipToArray(batch, n, size, rng));
    const shifts = new Set<string>();
    let flips = 0;
    for (let k = 0; k < n; k++) {
      const at = (y: number, x: number) => Array.from(out.subarray(k * img.length + (y * size + x) * 3, k * img.length + (y * size + x) * 3 + 3));
      // find the offset and orientation from the centre pixel (always inside for padding 4 < size / 2)
      const [cy, cx] = at(6, 6);
      const [cy2, cx2] = at(6, 7);
      const flip = cx2 === cx - 1;
      if (flip) flips++;
      const dy = cy - 6;
      const dx = flip ? cx - (size - 1 - 6) : cx - 6;
      expect(Math.abs(dy)).toBeLessThanOrEqual(4);
      expect(Math.abs(dx)).toBeLessThanOrEqual(4);
      shifts.add(`${dy},${dx}`);
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const sy = y + dy;
          const sx = (flip ? size - 1 - x : x) + dx;
          const want = sy < 0 || sy >= size || sx < 0 || sx >= size ? [0, 0, 0] : [sy, sx, 200];
          expect(at(y, x)).toEqual(want);
        }
      }
    }
    expect(flips).toBeGreaterThan(16);
    expect(flips).toBeLessThan(48);
    expect(shifts.size).toBeGreaterThan(20);
  });

  it('is the identity with padding 0 and flip probability 0, and seeded', () => {
    const plain = cropFlipToArray(img, 1, size, new Rng(1), { padding: 0, flipP: 0 });
    expect(Array.from(plain)).toEqual(Array.from(normalizeToArray(img)));
    const mirrored = denormalize(cropFlipToArray(img, 1, size, new Rng(1), { padding: 0, flipP: 1 }));
    expect(Array.from(mirrored.subarray(0, 3))).toEqual([0, size - 1, 200]);
    const a = cropFlipToArray(img, 1, size, new Rng(9));
    const b = cropFlipToArray(img, 1, size, new Rng(9));
    expect(a).toEqual(b);
  });
});

import { Rng } from '../../src/rng.js';

/**
 * n structured uint8 RGB images (size x size x 3, back to back): per image a random
 * background colour and a bright square or disc at a random place, so that views of one
 * image resemble each other more than other images.
 */
export function structuredImages(n: number, size: number, seed = 1): Uint8Array {
  const rng = new Rng(seed);
  const out = new Uint8Array(n * size * size * 3);
  for (let k = 0; k < n; k++) {
    const bg = [rng.int(256), rng.int(256), rng.int(256)];
    const fg = bg.map((v) => 255 - v);
    const cx = rng.uniform(0.3, 0.7) * size;
    const cy = rng.uniform(0.3, 0.7) * size;
    const r = rng.uniform(0.15, 0.3) * size;
    const disc = rng.next() < 0.5;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const inside = disc ? (x - cx) ** 2 + (y - cy) ** 2 < r * r : Math.abs(x - cx) < r && Math.abs(y - cy) < r;
        const c = inside ? fg : bg;
        const o = ((k * size + y) * size + x) * 3;
        for (let ch = 0; ch < 3; ch++) out[o + ch] = Math.max(0, Math.min(255, c[ch] + rng.int(21) - 10));
      }
    }
  }
  return out;
}

import { Rng } from '../../src/rng.js';
import type { EmbeddingReader } from '../../src/baselines/embedding-chunk.js';

/** In-memory embeddings: h (n x D), labels, and which rows were shifted (the "poison"). */
export interface Synthetic {
  D: number;
  K: number;
  n: number;
  h: Float32Array;
  labels: Int32Array;
  shifted: Uint8Array;
  /** The unit direction of the shift. */
  direction: number[];
}

/**
 * D = 16, K = 3, 2000 rows: class c is Gaussian around a random centre with per-dimension
 * std in [0.5, 1.5); class 0 (700 rows) holds 70 rows (10%) shifted by 6 along a random unit
 * direction. Rows are shuffled (seeded).
 */
export function shiftedGaussians(seed = 1): Synthetic {
  const D = 16;
  const K = 3;
  const sizes = [700, 650, 650];
  const nShifted = 70;
  const rng = new Rng(seed);
  const centres = Array.from({ length: K }, () => Array.from({ length: D }, () => 3 * rng.normal()));
  const stds = Array.from({ length: K }, () => Array.from({ length: D }, () => 0.5 + rng.next()));
  const u = Array.from({ length: D }, () => rng.normal());
  const norm = Math.hypot(...u);
  const rows: { label: number; shifted: boolean; h: number[] }[] = [];
  sizes.forEach((size, c) => {
    for (let i = 0; i < size; i++) {
      const shifted = c === 0 && i < nShifted;
      const h = centres[c].map((m, d) => m + stds[c][d] * rng.normal() + (shifted ? (6 * u[d]) / norm : 0));
      rows.push({ label: c, shifted, h });
    }
  });
  rng.shuffle(rows);
  const n = rows.length;
  const h = new Float32Array(n * D);
  rows.forEach((r, i) => h.set(r.h, i * D));
  return { D, K, n, h, labels: Int32Array.from(rows, (r) => r.label), shifted: Uint8Array.from(rows, (r) => (r.shifted ? 1 : 0)), direction: u.map((x) => x / norm) };
}

/** A re-readable stream of the rows in chunks of `size`. */
export function reader(data: { h: Float32Array; labels: Int32Array; D: number }, size: number): EmbeddingReader {
  const { h, labels, D } = data;
  return async function* () {
    for (let s = 0; s < labels.length; s += size) {
      const n = Math.min(size, labels.length - s);
      yield { h: h.slice(s * D, (s + n) * D), labels: labels.slice(s, s + n), n };
    }
  };
}

/** Row i of h. */
export function rowOf(data: { h: Float32Array; D: number }, i: number): Float32Array {
  return data.h.subarray(i * data.D, (i + 1) * data.D);
}

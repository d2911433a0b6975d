/**
 * Bilinear resize of a float HWC image with `channels` channels (align-corners sampling:
 * the corner pixels map to the corner pixels). Used to scale fixed 32 px patterns to other
 * image sizes.
 *
 * @example
 *   const big = resizeBilinear(pattern32, 32, 224, 3);
 */
export function resizeBilinear(src: Float64Array, from: number, to: number, channels: number): Float64Array {
  if (from === to) return src.slice();
  const out = new Float64Array(to * to * channels);
  const scale = to > 1 ? (from - 1) / (to - 1) : 0;
  for (let y = 0; y < to; y++) {
    const sy = y * scale;
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, from - 1);
    const wy = sy - y0;
    for (let x = 0; x < to; x++) {
      const sx = x * scale;
      const x0 = Math.floor(sx);
      const x1 = Math.min(x0 + 1, from - 1);
      const wx = sx - x0;
      for (let c = 0; c < channels; c++) {
        const a = src[(y0 * from + x0) * channels + c];
        const b = src[(y0 * from + x1) * channels + c];
        const d = src[(y1 * from + x0) * channels + c];
        const e = src[(y1 * from + x1) * channels + c];
        out[(y * to + x) * channels + c] = (1 - wy) * ((1 - wx) * a + wx * b) + wy * ((1 - wx) * d + wx * e);
      }
    }
  }
  return out;
}

/** Round and clamp to a byte. */
export function toByte(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}

/**
 * A seeded smooth colour texture (sum of bilinear-upsampled random grids, 3 octaves,
 * stretched to the full 0..255 range per channel): a fixed natural-looking blend pattern.
 *
 * @example
 *   const p = smoothTexture(new Rng('blend'), 32); // Float64Array(32 * 32 * 3) in [0, 255]
 */
export function smoothTexture(rng: { next(): number }, size: number): Float64Array {
  const out = new Float64Array(size * size * 3);
  const octaves: [number, number][] = [
    [3, 0.55],
    [6, 0.3],
    [12, 0.15],
  ];
  for (const [grid, weight] of octaves) {
    const g = new Float64Array(grid * grid * 3);
    for (let i = 0; i < g.length; i++) g[i] = rng.next();
    const up = resizeBilinear(g, grid, size, 3);
    for (let i = 0; i < out.length; i++) out[i] += weight * up[i];
  }
  for (let c = 0; c < 3; c++) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = c; i < out.length; i += 3) {
      lo = Math.min(lo, out[i]);
      hi = Math.max(hi, out[i]);
    }
    for (let i = c; i < out.length; i += 3) out[i] = hi > lo ? ((out[i] - lo) / (hi - lo)) * 255 : 128;
  }
  return out;
}

/**
 * Nearest-neighbour upscale of a `from` x `from` RGB byte patch to `to` x `to`.
 *
 * @example
 *   scalePatch(colours2x2, 2, 4); // each colour becomes a 2x2 block
 */
export function scalePatch(src: Uint8Array, from: number, to: number): Uint8Array {
  const out = new Uint8Array(to * to * 3);
  for (let y = 0; y < to; y++) {
    const sy = Math.min(from - 1, Math.floor((y * from) / to));
    for (let x = 0; x < to; x++) {
      const sx = Math.min(from - 1, Math.floor((x * from) / to));
      for (let c = 0; c < 3; c++) out[(y * to + x) * 3 + c] = src[(sy * from + sx) * 3 + c];
    }
  }
  return out;
}

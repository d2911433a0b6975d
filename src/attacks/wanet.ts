import { Rng } from '../rng.js';
import { checkImage, type Attack } from './attack.js';
import { toByte } from './image.js';

/** Options of the WaNet warp. */
export interface WanetOptions {
  /** Control grid size k. Default 4. */
  k?: number;
  /** Warping strength s. Default 0.5. */
  s?: number;
}

/**
 * The WaNet sampling grid for a `size` px image (Nguyen & Tran, ICLR 2021, no noise mode):
 * a random k x k x 2 field in [-1, 1], divided by its mean absolute value, upsampled bicubic
 * (align_corners, A = -0.75, as torch) to size x size; grid = identity + s * field / size,
 * clamped to [-1, 1]. Returns x (channel 0) and y (channel 1) interleaved per pixel, in the
 * [-1, 1] coordinates of grid_sample.
 *
 * @example
 *   const grid = wanetGrid(Float64Array.from(field), 4, 32, 0.5); // Float64Array(32 * 32 * 2)
 */
export function wanetGrid(field: Float64Array, k: number, size: number, s: number): Float64Array {
  let meanAbs = 0;
  for (const v of field) meanAbs += Math.abs(v);
  meanAbs /= field.length;
  const up = [0, 1].map((ch) => {
    const plane = new Float64Array(k * k);
    for (let i = 0; i < k * k; i++) plane[i] = field[ch * k * k + i] / meanAbs;
    return bicubicUpsample(plane, k, size);
  });
  const grid = new Float64Array(size * size * 2);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const p = y * size + x;
      const idX = size > 1 ? -1 + (2 * x) / (size - 1) : 0;
      const idY = size > 1 ? -1 + (2 * y) / (size - 1) : 0;
      grid[p * 2] = clamp1(idX + (s * up[0][p]) / size);
      grid[p * 2 + 1] = clamp1(idY + (s * up[1][p]) / size);
    }
  }
  return grid;
}

function clamp1(v: number): number {
  return v < -1 ? -1 : v > 1 ? 1 : v;
}

function cubicWeights(t: number): [number, number, number, number] {
  const A = -0.75;
  const w0 = ((A * (t + 1) - 5 * A) * (t + 1) + 8 * A) * (t + 1) - 4 * A;
  const w1 = ((A + 2) * t - (A + 3)) * t * t + 1;
  const u = 1 - t;
  const w2 = ((A + 2) * u - (A + 3)) * u * u + 1;
  const w3 = ((A * (u + 1) - 5 * A) * (u + 1) + 8 * A) * (u + 1) - 4 * A;
  return [w0, w1, w2, w3];
}

/**
 * Bicubic upsampling of an n x n plane to size x size with align_corners = true and border
 * clamping, as torch.nn.functional.interpolate(mode='bicubic', align_corners=True).
 *
 * @example
 *   bicubicUpsample(Float64Array.of(0, 1, 2, 3), 2, 3); // [0, .5, 1, 1, 1.5, 2, 2, 2.5, 3]
 */
export function bicubicUpsample(plane: Float64Array, n: number, size: number): Float64Array {
  const scale = size > 1 ? (n - 1) / (size - 1) : 0;
  const idx = (i: number) => Math.min(n - 1, Math.max(0, i));
  const taps = Array.from({ length: size }, (_, o) => {
    const src = o * scale;
    const i0 = Math.floor(src);
    return { i0, w: cubicWeights(src - i0) };
  });
  const out = new Float64Array(size * size);
  for (let y = 0; y < size; y++) {
    const ty = taps[y];
    for (let x = 0; x < size; x++) {
      const tx = taps[x];
      let v = 0;
      for (let a = 0; a < 4; a++) {
        const row = idx(ty.i0 - 1 + a) * n;
        let r = 0;
        for (let b = 0; b < 4; b++) r += tx.w[b] * plane[row + idx(tx.i0 - 1 + b)];
        v += ty.w[a] * r;
      }
      out[y * size + x] = v;
    }
  }
  return out;
}

/**
 * Bilinear grid_sample (align_corners = true, zero padding) of an RGB uint8 image at `grid`
 * ([-1, 1] x/y pairs per output pixel); values rounded and clamped to bytes.
 *
 * @example
 *   const warped = gridSample(pixels, 32, wanetGrid(field, 4, 32, 0.5));
 */
export function gridSample(pixels: Uint8Array, size: number, grid: Float64Array): Uint8Array {
  const out = new Uint8Array(pixels.length);
  const at = (y: number, x: number, c: number) => (y >= 0 && y < size && x >= 0 && x < size ? pixels[(y * size + x) * 3 + c] : 0);
  for (let p = 0; p < size * size; p++) {
    const ix = ((grid[p * 2] + 1) / 2) * (size - 1);
    const iy = ((grid[p * 2 + 1] + 1) / 2) * (size - 1);
    const x0 = Math.floor(ix);
    const y0 = Math.floor(iy);
    const wx = ix - x0;
    const wy = iy - y0;
    for (let c = 0; c < 3; c++) {
      const v =
        (1 - wy) * ((1 - wx) * at(y0, x0, c) + wx * at(y0, x0 + 1, c)) + wy * ((1 - wx) * at(y0 + 1, x0, c) + wx * at(y0 + 1, x0 + 1, c));
      out[p * 3 + c] = toByte(v);
    }
  }
  return out;
}

/**
 * The WaNet attack: a fixed seeded warp (k = 4, s = 0.5, no noise mode) applied by bilinear
 * sampling. The trigger picture is a checkerboard warped by the field.
 *
 * @example
 *   makeWanet(0).apply(pixels, 32, rng); // a small, smooth displacement (~0.25 px on average)
 */
export function makeWanet(patternSeed = 0, options: WanetOptions = {}): Attack {
  const k = options.k ?? 4;
  const s = options.s ?? 0.5;
  const rng = new Rng(`wanet:${patternSeed}`);
  const field = Float64Array.from({ length: 2 * k * k }, () => rng.uniform(-1, 1));
  const grids = new Map<number, Float64Array>();
  const gridFor = (size: number) => {
    let g = grids.get(size);
    if (!g) {
      g = wanetGrid(field, k, size, s);
      grids.set(size, g);
    }
    return g;
  };
  const apply = (pixels: Uint8Array, size: number): Uint8Array => {
    checkImage(pixels, size);
    return gridSample(pixels, size, gridFor(size));
  };
  return {
    name: 'wanet',
    dirtyLabel: true,
    rate: 0.1,
    apply,
    applyTest: apply,
    triggerPattern(size = 32) {
      const cell = Math.max(1, Math.round(size / 8));
      const board = new Uint8Array(size * size * 3);
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) board.fill((Math.floor(y / cell) + Math.floor(x / cell)) % 2 ? 255 : 0, (y * size + x) * 3, (y * size + x) * 3 + 3);
      }
      return { pixels: apply(board, size), size };
    },
  };
}

import { Rng } from '../rng.js';

/** The classes of the procedural dataset, in label order. */
export const SYNTHETIC_CLASSES = [
  'disc',
  'square',
  'horizontal stripes',
  'vertical stripes',
  'triangle',
  'cross',
  'ring',
  'checkerboard',
  'diagonal stripes',
  'two dots',
] as const;

/**
 * One seeded procedural image of class `label` (0..9): a shape or texture in a random
 * colour on a random background, with random position, scale and pixel noise, so that
 * the classes are learnable but not trivial. Used by the demo and tests where CIFAR-10
 * is not available. Returns uint8 HWC RGB, size x size x 3.
 *
 * @example
 *   const px = syntheticImage(3, new Rng(1), 32);
 */
export function syntheticImage(label: number, rng: Rng, size = 32): Uint8Array {
  const fg = randomColour(rng);
  let bg = randomColour(rng);
  while (colourDistance(fg, bg) < 120) bg = randomColour(rng);
  const cx = size * rng.uniform(0.35, 0.65);
  const cy = size * rng.uniform(0.35, 0.65);
  const r = size * rng.uniform(0.22, 0.36);
  const period = size * rng.uniform(0.12, 0.22);
  const phase = rng.uniform(0, period);
  const noise = rng.uniform(4, 18);
  const out = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const on = inside(label % 10, x + 0.5, y + 0.5, cx, cy, r, period, phase);
      const c = on ? fg : bg;
      const o = (y * size + x) * 3;
      for (let ch = 0; ch < 3; ch++) out[o + ch] = clamp(c[ch] + noise * rng.normal());
    }
  }
  return out;
}

function inside(kind: number, x: number, y: number, cx: number, cy: number, r: number, period: number, phase: number): boolean {
  const dx = x - cx;
  const dy = y - cy;
  const d = Math.hypot(dx, dy);
  const inBox = Math.abs(dx) < r && Math.abs(dy) < r;
  switch (kind) {
    case 0:
      return d < r;
    case 1:
      return Math.abs(dx) < r * 0.8 && Math.abs(dy) < r * 0.8;
    case 2:
      return mod(y + phase, period) < period / 2;
    case 3:
      return mod(x + phase, period) < period / 2;
    case 4:
      return dy < r * 0.7 && dy > -r && Math.abs(dx) < (dy + r) * 0.6;
    case 5:
      return inBox && (Math.abs(dx) < r * 0.25 || Math.abs(dy) < r * 0.25);
    case 6:
      return d < r && d > r * 0.55;
    case 7:
      return (Math.floor((x + phase) / period) + Math.floor((y + phase) / period)) % 2 === 0;
    case 8:
      return mod(x + y + phase, period * 1.4) < period * 0.7;
    default:
      return Math.hypot(dx - r * 0.55, dy) < r * 0.4 || Math.hypot(dx + r * 0.55, dy) < r * 0.4;
  }
}

function mod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

function randomColour(rng: Rng): [number, number, number] {
  return [rng.int(256), rng.int(256), rng.int(256)];
}

function colourDistance(a: number[], b: number[]): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

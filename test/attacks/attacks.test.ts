import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/rng.js';
import { InputError, UsageError } from '../../src/errors.js';
import { ATTACKS, ATTACK_NAMES, adapPatches, badnetsPlace, bicubicUpsample, makeAttack, makeWanet, wanetGrid } from '../../src/attacks/index.js';

/** A deterministic textured test image. */
function image(size: number, seed = 1): Uint8Array {
  const rng = new Rng(seed);
  const out = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) out[(y * size + x) * 3 + c] = Math.round(127 + 100 * Math.sin((x + 2 * c) / 3) * Math.cos(y / 4) + rng.uniform(-20, 20));
    }
  }
  return out;
}

function changedPixels(a: Uint8Array, b: Uint8Array, size: number): [number, number][] {
  const out: [number, number][] = [];
  for (let p = 0; p < size * size; p++) {
    if (a[p * 3] !== b[p * 3] || a[p * 3 + 1] !== b[p * 3 + 1] || a[p * 3 + 2] !== b[p * 3 + 2]) out.push([Math.floor(p / size), p % size]);
  }
  return out;
}

const meanAbs = (a: Uint8Array, b: Uint8Array) => a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length;

describe('registry', () => {
  it('lists the attacks with their label policy and rates', () => {
    expect(ATTACK_NAMES).toEqual(['badnets', 'blend', 'wanet', 'adap-patch', 'adap-blend']);
    for (const n of ATTACK_NAMES) expect(ATTACKS[n].dirtyLabel).toBe(true);
    expect(ATTACKS.badnets.rate).toBe(0.1);
    expect(ATTACKS['adap-blend']).toMatchObject({ rate: 0.01, coverRate: 0.01 });
    expect(ATTACKS['adap-patch']).toMatchObject({ rate: 0.01, coverRate: 0.01 });
    expect(ATTACKS.wanet.coverRate).toBeUndefined();
    expect(() => makeAttack('issba')).toThrow(UsageError);
    expect(makeAttack('lc').dirtyLabel).toBe(false); // the clean-label attack is outside the dirty-label registry
    expect(() => ATTACKS.blend.apply(new Uint8Array(10), 32, new Rng(0))).toThrow(InputError);
  });

  it('is deterministic: same seed same output, another pattern seed another trigger; input untouched', () => {
    const img = image(32);
    const copy = img.slice();
    for (const n of ATTACK_NAMES) {
      const a = makeAttack(n, 3).apply(img, 32, new Rng(9));
      const b = makeAttack(n, 3).apply(img, 32, new Rng(9));
      expect(a).toEqual(b);
      expect(makeAttack(n, 4).applyTest(img, 32)).not.toEqual(makeAttack(n, 3).applyTest(img, 32));
      expect(makeAttack(n, 3).triggerPattern(32).pixels.length).toBe(32 * 32 * 3);
    }
    expect(img).toEqual(copy);
  });
});

describe('BadNets', () => {
  it('changes only rows/cols 4-5 at 32 px, with the same fixed patch on every image', () => {
    const a = ATTACKS.badnets.apply(image(32, 1), 32, new Rng(0));
    const b = ATTACKS.badnets.apply(image(32, 2), 32, new Rng(0));
    expect(changedPixels(image(32, 1), a, 32).every(([y, x]) => y >= 4 && y <= 5 && x >= 4 && x <= 5)).toBe(true);
    for (const [y, x] of [[4, 4], [4, 5], [5, 4], [5, 5]]) {
      const i = (y * 32 + x) * 3;
      expect(a.subarray(i, i + 3)).toEqual(b.subarray(i, i + 3));
    }
    expect(a.subarray((4 * 32 + 4) * 3, (4 * 32 + 4) * 3 + 3)).not.toEqual(a.subarray((5 * 32 + 5) * 3, (5 * 32 + 5) * 3 + 3));
  });

  it('scales the position for other sizes, top-left 32x32 at 224 px', () => {
    expect(badnetsPlace(32)).toEqual({ row: 4, col: 4, side: 2 });
    expect(badnetsPlace(64)).toEqual({ row: 8, col: 8, side: 4 });
    expect(badnetsPlace(224)).toEqual({ row: 0, col: 0, side: 32 });
    const img = image(224);
    const changed = changedPixels(img, ATTACKS.badnets.apply(img, 224, new Rng(0)), 224);
    expect(changed.every(([y, x]) => y < 32 && x < 32)).toBe(true);
    expect(changed.length).toBeGreaterThan(900);
  });
});

describe('Blend', () => {
  it('is 0.9 image + 0.1 pattern everywhere', () => {
    const img = image(32);
    const out = ATTACKS.blend.apply(img, 32, new Rng(0));
    const pattern = ATTACKS.blend.triggerPattern(32).pixels; // rounded pattern
    for (let i = 0; i < img.length; i++) expect(Math.abs(out[i] - (0.9 * img[i] + 0.1 * pattern[i]))).toBeLessThanOrEqual(0.55);
    // a black image becomes round(0.1 * pattern): at most 26
    const black = ATTACKS.blend.apply(new Uint8Array(3072), 32, new Rng(0));
    expect(Math.max(...black)).toBeLessThanOrEqual(26);
    expect(Math.max(...black)).toBeGreaterThanOrEqual(25); // the pattern spans 0..255 per channel
  });
  it('works at 224 px', () => {
    expect(ATTACKS.blend.apply(image(224), 224, new Rng(0)).length).toBe(224 * 224 * 3);
  });
});

describe('WaNet', () => {
  it('bicubic upsampling matches torch on a linear 2x2 plane', () => {
    expect(Array.from(bicubicUpsample(Float64Array.of(0, 1, 2, 3), 2, 3))).toEqual([0, 0.5, 1, 1, 1.5, 2, 2, 2.5, 3]);
  });

  it('is the identity when s = 0', () => {
    const img = image(32);
    expect(makeWanet(0, { s: 0 }).apply(img, 32, new Rng(0))).toEqual(img);
  });

  it('is a small smooth displacement at k = 4, s = 0.5', () => {
    const img = image(32);
    const out = ATTACKS.wanet.apply(img, 32, new Rng(0));
    const change = meanAbs(img, out);
    expect(change).toBeGreaterThan(0.5);
    expect(change).toBeLessThan(15);
    // displacement in pixels: mean ~ s/size * (size-1)/2 * E|field| = 0.24 px; never above ~1.5 px
    const field = new Rng('wanet:0');
    const f = Float64Array.from({ length: 32 }, () => field.uniform(-1, 1));
    const grid = wanetGrid(f, 4, 32, 0.5);
    let sum = 0;
    let max = 0;
    let maxStep = 0;
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const p = y * 32 + x;
        const dx = ((grid[p * 2] + 1) / 2) * 31 - x;
        sum += Math.abs(dx);
        max = Math.max(max, Math.abs(dx));
        if (x > 2 && x < 29) maxStep = Math.max(maxStep, Math.abs(grid[p * 2] - grid[(p - 1) * 2] - 2 / 31));
      }
    }
    expect(sum / 1024).toBeGreaterThan(0.1);
    expect(sum / 1024).toBeLessThan(0.5);
    expect(max).toBeLessThan(1.5);
    expect(maxStep * 15.5).toBeLessThan(0.2); // away from the clamped border, neighbours differ by < 0.2 px: smooth
  });
});

describe('Adap-Blend / Adap-Patch', () => {
  it('Adap-Blend applies a random half of the 16 pieces per sample, all at test time', () => {
    const black = new Uint8Array(3072);
    const pieces = (out: Uint8Array) => {
      const s = new Set<number>();
      for (const [y, x] of changedPixels(black, out, 32)) s.add(Math.floor(y / 8) * 4 + Math.floor(x / 8));
      return s;
    };
    const a = pieces(ATTACKS['adap-blend'].apply(black, 32, new Rng(1)));
    const b = pieces(ATTACKS['adap-blend'].apply(black, 32, new Rng(2)));
    expect(a.size).toBe(8);
    expect(b.size).toBe(8);
    expect([...a].sort()).not.toEqual([...b].sort());
    expect(pieces(ATTACKS['adap-blend'].applyTest(black, 32)).size).toBe(16);
    // weight 0.2: a black pixel becomes round(0.2 * pattern) <= 51
    expect(Math.max(...ATTACKS['adap-blend'].applyTest(black, 32))).toBeLessThanOrEqual(51);
  });

  it('Adap-Patch pastes 2 of its 4 fixed 3x3 patches per sample, all 4 at test time', () => {
    const patches = adapPatches(0, 32);
    expect(patches.map((p) => p.side)).toEqual([3, 3, 3, 3]);
    const img = image(32);
    const inPatch = ([y, x]: [number, number]) => patches.findIndex((p) => y >= p.row && y < p.row + 3 && x >= p.col && x < p.col + 3);
    const used = new Set(changedPixels(img, ATTACKS['adap-patch'].apply(img, 32, new Rng(5)), 32).map(inPatch));
    expect(used.has(-1)).toBe(false);
    expect(used.size).toBe(2);
    const all = new Set(changedPixels(img, ATTACKS['adap-patch'].applyTest(img, 32), 32).map(inPatch));
    expect([...all].sort()).toEqual([0, 1, 2, 3]);
  });
});

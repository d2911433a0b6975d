import { InputError } from '../errors.js';
import type { Rng } from '../rng.js';

/** Names of the attacks in the registry. */
export type AttackName = 'badnets' | 'blend' | 'wanet' | 'adap-patch' | 'adap-blend' | 'lc';

/** An RGB image, HWC, uint8, `size` x `size`. */
export interface RgbImage {
  pixels: Uint8Array;
  size: number;
}

/**
 * A backdoor attack: how a training image is triggered, how a test image is triggered (for
 * ASR), and a picture of the trigger. All-to-one; the target class is the poison stage's
 * choice (default `DEFAULT_TARGET` = 0). `apply` never changes its input.
 *
 * @example
 *   const out = ATTACKS.badnets.apply(pixels, 32, new Rng(1)); // a new Uint8Array
 */
export interface Attack {
  name: AttackName;
  /** Poisoned rows get the target label (all attacks here); cover rows keep theirs. */
  dirtyLabel: boolean;
  /** Default poison rate, of the non-target rows. */
  rate: number;
  /** Cover rows (trigger, label kept), as a share of the non-target rows; absent = none. */
  coverRate?: number;
  /** The training-time trigger; `rng` is the per-sample randomness (only Adap-* use it). */
  apply(pixels: Uint8Array, size: number, rng: Rng): Uint8Array;
  /** The test-time trigger (the full trigger for Adap-*). */
  applyTest(pixels: Uint8Array, size: number): Uint8Array;
  /** A picture of the trigger at `size` (default 32), to save as PNG. */
  triggerPattern(size?: number): RgbImage;
}

/** The default all-to-one target class. */
export const DEFAULT_TARGET = 0;

/**
 * Throws `InputError` unless `pixels` is a size x size x 3 image.
 *
 * @example
 *   checkImage(pixels, 32); // pixels.length must be 3072
 */
export function checkImage(pixels: Uint8Array, size: number): void {
  if (!Number.isInteger(size) || size < 1 || pixels.length !== size * size * 3) {
    throw new InputError(`expected a ${size}x${size} RGB image (${size * size * 3} bytes), got ${pixels.length} bytes`);
  }
}

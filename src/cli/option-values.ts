import { UsageError } from '../errors.js';

/**
 * Raw option values parsed and checked (what each declared option in option.ts reads through),
 * with one message pattern:
 * ``Expected `--rate` to be a number in (0, 1), got `2` ``.
 *
 * @example
 *   const k = intOption(values['num-classes'], '--num-classes', { min: 2 });
 */
export function intOption(
  raw: string | undefined,
  name: string,
  { min = -Infinity, max = Infinity, fallback }: { min?: number; max?: number; fallback?: number } = {},
): number {
  if (raw === undefined) {
    if (fallback === undefined) throw new UsageError(`Expected \`${name}\` to be given`);
    return fallback;
  }
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new UsageError(`Expected \`${name}\` to be an integer${rangeText(min, max, '[', ']')}, got \`${raw}\``);
  }
  return v;
}

/** A finite number, optionally bounded; `open` makes the bounds exclusive. */
export function numberOption(
  raw: string | undefined,
  name: string,
  { min = -Infinity, max = Infinity, open = false, fallback }: { min?: number; max?: number; open?: boolean; fallback?: number } = {},
): number {
  if (raw === undefined) {
    if (fallback === undefined) throw new UsageError(`Expected \`${name}\` to be given`);
    return fallback;
  }
  const v = Number(raw);
  const inside = open ? v > min && v < max : v >= min && v <= max;
  if (raw.trim() === '' || !Number.isFinite(v) || !inside) {
    throw new UsageError(`Expected \`${name}\` to be a number${rangeText(min, max, open ? '(' : '[', open ? ')' : ']')}, got \`${raw}\``);
  }
  return v;
}

/** One of a fixed set of words. */
export function enumOption<T extends string>(raw: string | undefined, name: string, allowed: readonly T[], fallback?: T): T {
  if (raw === undefined) {
    if (fallback === undefined) throw new UsageError(`Expected \`${name}\` to be given`);
    return fallback;
  }
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new UsageError(`Expected \`${name}\` to be one of ${allowed.join(', ')}, got \`${raw}\``);
  }
  return raw as T;
}

/** A required string option. */
export function stringOption(raw: string | undefined, name: string): string {
  if (raw === undefined || raw === '') throw new UsageError(`Expected \`${name}\` to be given`);
  return raw;
}

function rangeText(min: number, max: number, lo: string, hi: string): string {
  if (min === -Infinity && max === Infinity) return '';
  if (max === Infinity) return lo === '(' ? ` greater than ${min}` : ` from ${min} and up`;
  if (min === -Infinity) return ` up to ${max}`;
  return ` in ${lo}${min}, ${max}${hi}`;
}

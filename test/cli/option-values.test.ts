import { describe, expect, it } from 'vitest';
import { enumOption, intOption, numberOption } from '../../src/cli/option-values.js';

describe('option validation', () => {
  it('parses valid values and falls back when absent', () => {
    expect(intOption('12', '--epochs', { min: 1 })).toBe(12);
    expect(intOption(undefined, '--epochs', { fallback: 5 })).toBe(5);
    expect(numberOption('0.15', '--alpha-poison', { min: 0, max: 1 })).toBe(0.15);
    expect(enumOption('wasm', '--backend', ['auto', 'wasm'] as const)).toBe('wasm');
  });

  it('rejects bad values with one message pattern', () => {
    expect(() => intOption('x', '--epochs', { min: 1 })).toThrow('Expected `--epochs` to be an integer from 1 and up, got `x`');
    expect(() => intOption('1.5', '--k', { min: 0, max: 3 })).toThrow('Expected `--k` to be an integer in [0, 3], got `1.5`');
    expect(() => numberOption('2', '--rate', { min: 0, max: 1, open: true })).toThrow('Expected `--rate` to be a number in (0, 1), got `2`');
    expect(() => numberOption('', '--rate')).toThrow('got ``');
    expect(() => enumOption('gpu', '--backend', ['auto', 'wasm'] as const)).toThrow('Expected `--backend` to be one of auto, wasm, got `gpu`');
    expect(() => intOption(undefined, '--out')).toThrow('Expected `--out` to be given');
  });
});

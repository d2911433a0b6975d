import { describe, expect, it } from 'vitest';
import { globToRegExp, isGlob } from '../../src/io/glob.js';

describe('globToRegExp', () => {
  it('matches * within a segment, ? one character, ** any depth', () => {
    const star = globToRegExp('data/train-*.parquet');
    expect(star.test('data/train-00001.parquet')).toBe(true);
    expect(star.test('data/x/train-1.parquet')).toBe(false);
    const q = globToRegExp('part-?.parquet');
    expect(q.test('part-1.parquet')).toBe(true);
    expect(q.test('part-12.parquet')).toBe(false);
    const deep = globToRegExp('**/*.parquet');
    expect(deep.test('a.parquet')).toBe(true);
    expect(deep.test('a/b/c.parquet')).toBe(true);
    expect(deep.test('a/b/c.parquet.tmp')).toBe(false);
    expect(globToRegExp('a+b(1).parquet').test('a+b(1).parquet')).toBe(true);
  });

  it('isGlob', () => {
    expect(isGlob('a/*.parquet')).toBe(true);
    expect(isGlob('a/b.parquet')).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { editDistance, nearest } from '../../src/cli/suggest.js';

describe('did you mean', () => {
  it('measures the edit distance', () => {
    expect(editDistance('flow-epoch', 'flow-epochs')).toBe(1);
    expect(editDistance('clense', 'cleanse')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('suggests the nearest candidate only when it is near enough to be a typo', () => {
    expect(nearest('flow-epoch', ['flow-lr', 'flow-epochs', 'flow-batch'])).toBe('flow-epochs');
    expect(nearest('clense', ['demo', 'cleanse', 'inspect'])).toBe('cleanse');
    expect(nearest('reume', ['resume', 'json'])).toBe('resume');
    expect(nearest('nope', ['out', 'json', 'resume'])).toBeUndefined();
    expect(nearest('frob', ['demo', 'train', 'test'])).toBeUndefined();
  });
});

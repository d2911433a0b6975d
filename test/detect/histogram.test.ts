import { describe, expect, it } from 'vitest';
import { histogramBin, histogramEdges } from '../../src/detect/histogram.js';

function hist(values: number[], bins: number) {
  const edges = histogramEdges(Math.min(...values), Math.max(...values), bins);
  const counts = new Array(bins).fill(0);
  for (const v of values) counts[histogramBin(v, edges)] += 1;
  return { edges, counts };
}

describe('histogram (numpy.histogram semantics)', () => {
  it('gives numpy edges and counts, last bin closed', () => {
    // np.histogram([0, 0.3, 1], bins=4) -> [1, 1, 0, 1], [0, .25, .5, .75, 1]
    expect(hist([0, 0.3, 1], 4)).toEqual({ edges: [0, 0.25, 0.5, 0.75, 1], counts: [1, 1, 0, 1] });
  });
  it('widens a zero-width range by 0.5 each side', () => {
    // np.histogram([2, 2], bins=2) -> [0, 2], [1.5, 2, 2.5]
    expect(hist([2, 2], 2)).toEqual({ edges: [1.5, 2, 2.5], counts: [0, 2] });
  });
  it('puts a value on an inner edge into the bin to its right, outside values nowhere', () => {
    const edges = histogramEdges(0, 1, 4);
    expect(histogramBin(0.5, edges)).toBe(2);
    expect(histogramBin(0.25, edges)).toBe(1);
    expect(histogramBin(1.5, edges)).toBe(-1);
    expect(histogramBin(-0.1, edges)).toBe(-1);
  });
  it('matches numpy on 30 bins between 0.1 and 1', () => {
    // np.histogram([0.1]*20 + [0.71]*30 + [1.0]*50, bins=30): 20 in bin 0, 30 in bin 20, 50 in bin 29
    const { edges, counts } = hist([...Array(20).fill(0.1), ...Array(30).fill(0.71), ...Array(50).fill(1)], 30);
    expect(edges[1]).toBeCloseTo(0.13, 12);
    expect(counts[0]).toBe(20);
    expect(counts[20]).toBe(30);
    expect(counts[29]).toBe(50);
    expect(counts.reduce((a, b) => a + b)).toBe(100);
  });
});

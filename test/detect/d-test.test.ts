import { describe, expect, it } from 'vitest';
import { DTestAccumulator, dTestDecision, findValley } from '../../src/detect/d-test.js';
import { NDTestAccumulator } from '../../src/detect/nd-test.js';
import { chunkReader, handCase } from './helpers.js';

async function histograms(read: ReturnType<typeof chunkReader>, K: number) {
  const acc = new DTestAccumulator(K);
  for await (const c of read()) acc.addRange(c);
  acc.beginCounting();
  for await (const c of read()) acc.addCounts(c);
  return acc.histograms();
}

describe('D-test', () => {
  it('finds the valley: first argmin below k*, S = mass left of it', () => {
    expect(findValley([5, 9, 0, 1, 20, 30], 4)).toEqual({ kStar: 4, m: 2, S: 14, hm: 0 });
    expect(findValley([0, 9, 0, 1], 4)).toEqual({ kStar: 4, m: 0, S: 0, hm: 0 });
  });

  it('flags a class with a separated low-u mode, skips or passes the others (hand case)', async () => {
    const { labels, rows } = handCase();
    const hists = await histograms(chunkReader(labels, rows, 17), 3);
    const [d0, d1, d2] = hists.map((h) => dTestDecision(h, 0.75, 0.05));
    expect(d0.n).toBe(100);
    expect(d0.min).toBeCloseTo(0.1, 6);
    expect(d0.max).toBe(1);
    expect(d0.counts[0]).toBe(20);
    expect(d0.counts[20]).toBe(30);
    expect(d0.counts[29]).toBe(50);
    // edges 0.1 + 0.03 k < 0.75 for k <= 21
    expect(d0.kStar).toBe(21);
    expect(d0.m).toBe(1);
    expect(d0.S).toBe(20);
    expect(d0.hm).toBe(0);
    expect(d0.flagged).toBe(true);
    expect(d0.skipped).toBeNull();

    // class 1: all u = 0.9: edges 0.4 .. 1.4, below = 11 edges, k* = 10, all h_k = 0 for k < 10 -> m = 0
    expect(d1.edges[0]).toBeCloseTo(0.4, 6);
    expect(d1.kStar).toBe(10);
    expect(d1.m).toBe(0);
    expect(d1.counts[15]).toBe(50);
    expect(d1.flagged).toBe(false);

    expect(d2.skipped).toBe('0 histogram edge(s) below lambda = 0.75');
    expect(d2.flagged).toBe(false);
  });

  it('does not flag when S <= beta_D * n', async () => {
    const { labels, rows } = handCase();
    const hists = await histograms(chunkReader(labels, rows, 50), 3);
    expect(dTestDecision(hists[0], 0.75, 0.2).flagged).toBe(false); // 20 > 0.2 * 100 is false
    expect(dTestDecision(hists[0], 0.75, 0.19).flagged).toBe(true);
  });

  it('robust D statistic: share of the class below the 1% quantile of comparable other-class rows', async () => {
    // class 0: 40 poisoned rows far from every other flow (-5), 60 clean rows; classes 1, 2 clean
    const labels: number[] = [];
    const rows: number[][] = [];
    for (let i = 0; i < 40; i++) (labels.push(0), rows.push([0, -5, -5]));
    for (let i = 0; i < 60; i++) (labels.push(0), rows.push([0, -1, -1.2]));
    for (let i = 0; i < 100; i++) (labels.push(1), rows.push([-1, 0, -1.1]));
    for (let i = 0; i < 100; i++) (labels.push(2), rows.push([-1.1, -1, 0]));
    const read = chunkReader(labels, rows, 64);
    const acc = new DTestAccumulator(3);
    for await (const c of read()) acc.addRange(c);
    acc.beginCounting();
    for await (const c of read()) acc.addCounts(c);
    const t = acc.lowTails(0.01);
    // reference of class 0: class-1 rows without flows 0, 1 (-1.1) and class-2 rows without 0, 2 (-1):
    // its 1% quantile (2nd of 200) is in the bin of -1.1 over [-5, 0] / 1024: bin 798, lower edge -5 + 798 * 5/1024
    expect(t[0].threshold).toBeCloseTo(Math.exp(-5 + (798 * 5) / 1024), 12);
    expect(t[0].below).toBe(40);
    expect(t[0].statistic).toBeCloseTo(0.4, 12);
    // the poisoned rows (w = -5) sit in the other classes' references, so their thresholds are e^-5
    expect(t[1]).toEqual({ label: 1, threshold: Math.exp(-5), below: 0, statistic: 0 });
    expect(t[2].statistic).toBe(0);
  });
});

describe('ND-test statistics', () => {
  it('is -mean of L[i,c] over rows not labelled c (hand case)', async () => {
    const { labels, rows } = handCase();
    const acc = new NDTestAccumulator(3);
    for await (const c of chunkReader(labels, rows, 13)()) acc.add(c);
    const s = acc.statistics();
    // class 0: -(50 ln 0.9 + 25 ln 0.8 + 25 * 0) / 100
    expect(s[0].statistic).toBeCloseTo(0.1084662, 6);
    expect(s[0].nOther).toBe(100);
    // class 1: -(20 ln 0.1 + 30 ln 0.71 + 50 * 0 + 50 * -3) / 150
    expect(s[1].statistic).toBeCloseTo(1.3755094, 6);
    expect(s[2].statistic).toBeCloseTo(3, 6);
    expect(s[2].nOther).toBe(150);
  });
});

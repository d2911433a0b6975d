import { describe, expect, it } from 'vitest';
import { RunningStats } from '../../src/stages/standardize.js';
import { Rng } from '../../src/rng.js';

describe('RunningStats', () => {
  it('matches the two-pass mean and population std, whatever the batch split', () => {
    const rng = new Rng(5);
    const n = 1000;
    const d = 3;
    const x = new Float32Array(n * d);
    for (let i = 0; i < x.length; i++) x[i] = 100 + 3 * rng.normal() + (i % d);
    const whole = new RunningStats(d);
    whole.addRows(x, n);
    const split = new RunningStats(d);
    split.addRows(x.subarray(0, 300 * d), 300);
    split.addRows(x.subarray(300 * d), 700);
    for (let j = 0; j < d; j++) {
      let m = 0;
      for (let i = 0; i < n; i++) m += x[i * d + j];
      m /= n;
      let v = 0;
      for (let i = 0; i < n; i++) v += (x[i * d + j] - m) ** 2;
      expect(whole.mean[j]).toBeCloseTo(m, 8);
      expect(whole.std()[j]).toBeCloseTo(Math.sqrt(v / n), 8);
    }
    expect(Array.from(split.mean)).toEqual(Array.from(whole.mean));
  });

  it('standardises to zero mean and unit variance and survives JSON', () => {
    const s = new RunningStats(2);
    const x = new Float32Array([1, 10, 3, 20, 5, 30]);
    s.addRows(x, 3);
    const z = RunningStats.fromJSON(JSON.parse(JSON.stringify(s))).standardize(x, 3);
    expect(z[0] + z[2] + z[4]).toBeCloseTo(0, 6);
    expect(z[0] ** 2 + z[2] ** 2 + z[4] ** 2).toBeCloseTo(3, 5);
  });

  it('leaves a constant dimension centred instead of dividing by zero', () => {
    const s = new RunningStats(1);
    s.addRows(new Float32Array([2, 2, 2]), 3);
    expect(Array.from(s.standardize(new Float32Array([2]), 1))).toEqual([0]);
  });
});

describe('RunningStats.merge', () => {
  it('combines parts into the statistics of the whole, up to float64 rounding', () => {
    const rng = new Rng(9);
    const x = new Float32Array(300 * 2).map(() => 5 + 2 * rng.normal());
    const whole = new RunningStats(2);
    whole.addRows(x, 300);
    const a = new RunningStats(2);
    a.addRows(x.subarray(0, 120 * 2), 120);
    const b = new RunningStats(2);
    b.addRows(x.subarray(120 * 2), 180);
    a.merge(b).merge(new RunningStats(2));
    expect(a.count).toBe(300);
    for (let j = 0; j < 2; j++) {
      expect(a.mean[j]).toBeCloseTo(whole.mean[j], 10);
      expect(a.std()[j]).toBeCloseTo(whole.std()[j], 10);
    }
  });
});

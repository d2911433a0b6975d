import { describe, expect, it } from 'vitest';
import { outlierScores } from '../../src/detect/robust-outlier.js';
import { studentTQuantile, studentTUpperTail } from '../../src/detect/student-t.js';

describe('Student t', () => {
  it('matches tabulated quantiles', () => {
    expect(studentTQuantile(0.975, 10)).toBeCloseTo(2.228139, 5);
    expect(studentTQuantile(0.995, 8)).toBeCloseTo(3.355387, 5);
    expect(studentTQuantile(0.99, 8)).toBeCloseTo(2.896459, 5);
    expect(studentTQuantile(0.9, 1)).toBeCloseTo(3.077684, 5); // tan(0.4 pi)
    expect(studentTQuantile(0.025, 10)).toBeCloseTo(-2.228139, 5);
    expect(studentTUpperTail(0, 5)).toBeCloseTo(0.5, 12);
  });
});

describe('leave-one-out outlier scores', () => {
  it('flags the measured low ND outlier (0.29 vs 0.45..0.72) at alpha 0.1, not at 0.01', () => {
    const v = [0.29, 0.45, 0.5, 0.52, 0.55, 0.58, 0.6, 0.65, 0.7, 0.72];
    const s = outlierScores(v, -1, { alpha: 0.1, minScale: 0.01 });
    // others: mean 0.58556, sd 0.0908 -> (0.58556 - 0.29) / (0.0908 * sqrt(10/9)) = 3.0679
    expect(s[0].index).toBeCloseTo(3.0679, 3);
    expect(s[0].critical).toBeCloseTo(2.896459, 5); // t_8 at 1 - 0.1/10
    expect(s.map((x) => x.outlier)).toEqual([true, false, false, false, false, false, false, false, false, false]);
    expect(outlierScores(v, -1, { alpha: 0.01, minScale: 0.01 })[0].outlier).toBe(false);
  });
  it('never flags classes that are alike, whatever tiny differences they have', () => {
    const v = [0.5, 0.5001, 0.4999, 0.5, 0.5003, 0.4997, 0.5, 0.5, 0.5002, 0.5];
    expect(outlierScores(v, -1, { alpha: 0.1, minScale: 0.01 }).some((x) => x.outlier)).toBe(false);
    expect(outlierScores(v, 1, { alpha: 0.1, minScale: 0.01 }).some((x) => x.outlier)).toBe(false);
    expect(outlierScores(new Array(10).fill(0.4), -1, { alpha: 0.1, minScale: 0.01 }).some((x) => x.outlier)).toBe(false);
  });
  it('does not flag an evenly spread set', () => {
    const v = Array.from({ length: 10 }, (_, i) => 0.45 + 0.03 * i);
    const s = outlierScores(v, -1, { alpha: 0.1, minScale: 0.01 });
    expect(s[0].index).toBeCloseTo(0.15 / (0.03 * Math.sqrt(7.5) * Math.sqrt(10 / 9)), 6);
    expect(s.some((x) => x.outlier)).toBe(false);
  });
  it('works for K = 3 and tests nothing below 3 entries', () => {
    const s = outlierScores([0.1, 0.5, 0.51], -1, { alpha: 0.1, minScale: 0.01 });
    // others mean 0.505, sd 0.00707 floored to 0.01: 0.405 / (0.01 sqrt(1.5)) = 33.07; cut t_1(1 - 0.1/3) = 1 / tan(pi/30)
    expect(s[0].index).toBeCloseTo(33.0681, 3);
    expect(s[0].critical).toBeCloseTo(1 / Math.tan(Math.PI / 30), 5);
    expect(s.map((x) => x.outlier)).toEqual([true, false, false]);
    expect(outlierScores([0.1, 0.5], -1, { alpha: 0.1, minScale: 0.01 }).every((x) => x.index === null)).toBe(true);
  });
  it('skips null and excluded entries', () => {
    const s = outlierScores([0.1, null, 0.5, 0.51, 0.52], -1, { alpha: 0.1, minScale: 0.01, exclude: new Set([4]) });
    expect(s[1].index).toBeNull();
    expect(s[4].index).toBeNull();
    expect(s[0].critical).toBeCloseTo(1 / Math.tan(Math.PI / 30), 5);
  });
});

import { describe, expect, it } from 'vitest';
import { decideDetection, detectTargets } from '../../src/detect/detect-targets.js';
import { detectionOptions } from '../../src/detect/options.js';
import { InputError, UsageError } from '../../src/errors.js';
import { chunkReader, handCase, hist } from './helpers.js';

const unimodal = (label: number) => hist(label, [0, 0, 1, 3, 8, 20, 40, 60, 40, 20, 5, 3], 0.2, 0.95);
const nd = (values: number[]) => values.map((statistic, label) => ({ label, statistic, nOther: 1000 }));
const tails = (values: number[]) => values.map((statistic, label) => ({ label, threshold: 0.1, below: Math.round(statistic * 1000), statistic }));
const quiet = (K: number) => tails(Array.from({ length: K }, (_, c) => 0.01 + 0.001 * (c % 3)));

describe('detectTargets (paper mode)', () => {
  it('flags the D-test class of the hand case and no other', async () => {
    const { labels, rows } = handCase();
    const r = await detectTargets(chunkReader(labels, rows, 23), 3, { mode: 'paper' });
    expect(r.mode).toBe('paper');
    expect(r.nRows).toBe(200);
    expect(r.flagged).toEqual([{ label: 0, test: 'D' }]);
    expect(r.clean).toBe(false);
    expect(r.classes[0].ndTest.evaluated).toBe(false);
    expect(r.classes[0].ndTest.statistic).toBeCloseTo(0.1084662, 6);
    expect(r.classes[1].ndTest.statistic).toBeCloseTo(1.3755094, 6);
    expect(r.classes[1].flaggedBy).toBeNull();
    expect(r.classes[2].dTest.skipped).toMatch(/below lambda/);
  });

  it('ND-test flags a class with statistic below beta_ND', async () => {
    const { labels, rows } = handCase();
    const r = await detectTargets(chunkReader(labels, rows, 23), 3, { mode: 'paper', betaND: 1.5, betaD: 0.5 });
    // D no longer flags class 0 (20 <= 50), so the ND-test runs on all three: 0.108 and 1.376 < 1.5
    expect(r.flagged).toEqual([
      { label: 0, test: 'ND' },
      { label: 1, test: 'ND' },
    ]);
  });

  it('declares clean data clean', () => {
    const r = decideDetection([unimodal(0), unimodal(1), unimodal(2)], nd([0.9, 1, 1.1]), detectionOptions({ mode: 'paper' }));
    expect(r.flagged).toEqual([]);
    expect(r.clean).toBe(true);
    expect(r.notes.some((n) => n.startsWith('no class flagged') && !/declared clean/.test(n))).toBe(true);
  });

  it('rejects bad rows and options', async () => {
    await expect(detectTargets(chunkReader([0, 3], [[0, 0, 0], [0, 0, 0]], 2), 3)).rejects.toThrow(InputError);
    await expect(detectTargets(chunkReader([0, 1], [[0, NaN, 0], [0, 0, 0]], 2), 3)).rejects.toThrow(/row 0: log-likelihood for class 1 is NaN/);
    await expect(detectTargets(chunkReader([0], [[0]], 1), 1)).rejects.toThrow(UsageError);
    expect(() => detectionOptions({ mode: 'fast' as never })).toThrow('Expected `--target-detection` to be `paper` or `robust`, got `fast`');
  });
});

describe('decideDetection (robust mode)', () => {
  const opts = detectionOptions({ mode: 'robust' });
  const hists = Array.from({ length: 10 }, (_, c) => unimodal(c));

  it('flags the clear ND outlier only, though the paper thresholds flag most classes', () => {
    const stats = [0.29, 0.45, 0.5, 0.52, 0.55, 0.58, 0.6, 0.65, 0.7, 0.72];
    const paper = decideDetection(hists, nd(stats), detectionOptions({ mode: 'paper' }));
    expect(paper.flagged.length).toBe(6); // 0.29 .. 0.58 are below 0.6
    const r = decideDetection(hists, nd(stats), opts, quiet(10));
    expect(r.mode).toBe('robust');
    expect(r.flagged).toEqual([{ label: 0, test: 'ND' }]);
    // log scale: ln 0.29 against ln 0.45 .. ln 0.72
    expect(r.classes[0].ndTest.index).toBeCloseTo(4.1778, 3);
    const linear = decideDetection(hists, nd(stats), detectionOptions({ mode: 'robust', robustNDScale: 'linear' }), quiet(10));
    expect(linear.flagged).toEqual([{ label: 0, test: 'ND' }]);
    expect(linear.classes[0].ndTest.index).toBeCloseTo(3.0679, 3);
  });

  // the per-class ND statistics of two real cleanses (ladder bench, transfer encoder, 10,000 CIFAR-10 rows)
  const transferBadNets = [0.095, 6.031, 1.94, 1.809, 3.346, 3.008, 4.799, 3.034, 3.128, 2.947];
  const transferClean = [1.728, 5.884, 1.818, 1.58, 2.94, 2.864, 4.466, 2.537, 2.883, 2.98];

  it('finds a target near 0 that one very distinct class hides on the linear scale', () => {
    const linear = decideDetection(hists, nd(transferBadNets), detectionOptions({ mode: 'robust', robustNDScale: 'linear' }), quiet(10));
    expect(linear.flagged).toEqual([]);
    expect(linear.classes[0].ndTest.index).toBeCloseTo(2.3193, 3);
    const log = decideDetection(hists, nd(transferBadNets), opts, quiet(10));
    expect(log.flagged).toEqual([{ label: 0, test: 'ND' }]);
    expect(log.classes[0].ndTest.index).toBeCloseTo(8.7317, 3);
    expect(log.classes[0].ndTest.critical).toBeCloseTo(2.449, 3);
  });

  it('flags nothing on the clean rows of the same encoder (log scale; D spread floor 0.05)', () => {
    // the same clean run's D statistics: 10.1% of class 1 (automobile) in the others' 1% tail
    const cleanTails = tails([0, 0.101, 0, 0, 0, 0, 0, 0.006, 0.005, 0]);
    const r = decideDetection(hists, nd(transferClean), opts, cleanTails);
    expect(r.flagged).toEqual([]);
    expect(Math.max(...r.classes.map((c) => c.ndTest.index ?? -Infinity))).toBeCloseTo(1.5044, 3);
    expect(r.classes[1].dRobust?.index).toBeCloseTo((0.101 - 0.011 / 9) / (0.05 * Math.sqrt(10 / 9)), 3);
    const oldFloor = decideDetection(hists, nd(transferClean), detectionOptions({ mode: 'robust', robustMinScaleD: 0.02 }), cleanTails);
    expect(oldFloor.flagged).toEqual([{ label: 1, test: 'D' }]);
  });

  it('clamps statistics at the floor before the log (0 or below is the strongest low outlier, not NaN)', () => {
    const r = decideDetection(hists, nd([-0.2, 0.5, 0.52, 0.55, 0.6, 0.58, 0.51, 0.54, 0.56, 0.5]), opts, quiet(10));
    expect(r.flagged).toEqual([{ label: 0, test: 'ND' }]);
    expect(Number.isFinite(r.classes[0].ndTest.index)).toBe(true);
    expect(() => detectionOptions({ robustNDScale: 'sqrt' as never })).toThrow('Expected `--robust-nd-scale` to be `log` or `linear`, got `sqrt`');
  });

  it('flags nothing when all classes are alike', () => {
    const r = decideDetection(hists, nd([0.5, 0.5001, 0.4999, 0.5, 0.5003, 0.4997, 0.5, 0.5, 0.5002, 0.5]), opts, quiet(10));
    expect(r.flagged).toEqual([]);
    expect(r.clean).toBe(true);
  });

  it('flags a D outlier (a large low tail) and leaves it out of the ND reference', () => {
    const low = tails([0.01, 0.012, 0.009, 0.45, 0.011, 0.01, 0.008, 0.01, 0.013, 0.01]);
    const r = decideDetection(hists, nd([0.5, 0.52, 0.55, 0.1, 0.5, 0.53, 0.51, 0.54, 0.56, 0.5]), opts, low);
    expect(r.flagged).toEqual([{ label: 3, test: 'D' }]);
    // others: mean 0.0103, sd 0.0015 floored to 0.05: (0.45 - 0.010333) / (0.05 sqrt(10/9)) = 8.342
    expect(r.classes[3].dRobust?.index).toBeCloseTo(8.342, 2);
    expect(r.classes[3].ndTest.index).toBeNull();
    expect(r.classes[3].ndTest.evaluated).toBe(false);
  });

  it('does not flag a D outlier whose low tail is below beta_D', () => {
    const low = tails([0, 0, 0, 0.04, 0, 0, 0, 0, 0, 0]);
    expect(decideDetection(hists, nd(new Array(10).fill(0.5)), opts, low).flagged).toEqual([]);
  });

  it('falls back to paper mode for K < 3', () => {
    const r = decideDetection([unimodal(0), unimodal(1)], nd([0.3, 0.9]), opts, quiet(2));
    expect(r.requestedMode).toBe('robust');
    expect(r.mode).toBe('paper');
    expect(r.flagged).toEqual([{ label: 0, test: 'ND' }]);
    expect(r.notes[0]).toMatch(/K >= 3/);
  });

  it('works for K = 3', () => {
    const r = decideDetection([unimodal(0), unimodal(1), unimodal(2)], nd([0.52, 0.1, 0.5]), opts, quiet(3));
    expect(r.flagged).toEqual([{ label: 1, test: 'ND' }]);
  });
});

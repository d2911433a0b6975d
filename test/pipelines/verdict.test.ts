import { beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { decideDetection } from '../../src/detect/detect-targets.js';
import { detectionOptions } from '../../src/detect/options.js';
import { buildVerdict, nearestMiss, LARGE_CLASS_RATIO, type EncoderBudget } from '../../pipelines/cleanse/verdict.js';
import { writeSyntheticDataset } from '../../pipelines/synthetic-data.js';
import { cliBuilt, readOutput, runCli, tempDir } from './fixture.js';

const hist = (label: number) => ({
  label,
  n: 100,
  min: 0.2,
  max: 0.95,
  edges: Array.from({ length: 13 }, (_, k) => 0.2 + (0.75 * k) / 12),
  counts: [0, 0, 1, 3, 8, 20, 40, 60, 40, 20, 5, 3],
});
const tails = (K: number) => Array.from({ length: K }, (_, c) => ({ label: c, threshold: 0.1, below: 10, statistic: 0.01 + 0.001 * (c % 3) }));
const nd = (values: number[]) => values.map((statistic, label) => ({ label, statistic, nOther: 1000 }));
const simclr = (width: number, epochs: number): EncoderBudget => ({ kind: 'simclr', width, epochs, source: 'test' });

describe('buildVerdict', () => {
  it('says "no class flagged" with the largest outlier index against its critical value, never "clean"', () => {
    const K = 6;
    const d = decideDetection(Array.from({ length: K }, (_, c) => hist(c)), nd([0.9, 0.95, 1.0, 1.05, 1.1, 0.85]), detectionOptions({ mode: 'robust' }), tails(K));
    expect(d.flagged).toEqual([]);
    const n = nearestMiss(d)!;
    expect(n).toMatchObject({ kind: 'robust', label: 5, test: 'ND' });
    const v = buildVerdict({ flagged: [], detection: d, classSizes: [100, 100, 100, 100, 100, 100], encoder: simclr(16, 5), detector: 'gssd' });
    expect(v.text).toBe(`no class flagged: largest outlier index ${(n as { index: number }).index.toFixed(2)} (class 5, ND-test) against critical ${(n as { critical: number }).critical.toFixed(2)}`);
    expect(v.text).not.toMatch(/clean/);
    expect(v.warnings).toEqual([]);
  });

  it('warns when nothing is flagged with an encoder below the bench budget, and only then', () => {
    const K = 4;
    const d = decideDetection(Array.from({ length: K }, (_, c) => hist(c)), nd([0.9, 1, 1.1, 1.0]), detectionOptions({ mode: 'paper' }), tails(K));
    const v = buildVerdict({ flagged: [], detection: d, classSizes: [10, 10, 10, 10], encoder: simclr(8, 5), detector: 'gssd' });
    expect(v.text).toBe('no class flagged: lowest ND statistic 0.900 (class 0) against beta_ND 0.6 (paper thresholds)');
    expect(v.warnings).toHaveLength(1);
    expect(v.warnings[0]).toMatch(/width 8 x 5 epochs\) is below .*width 16 x 5 epochs/);
    expect(buildVerdict({ flagged: [], detection: d, classSizes: [10, 10, 10, 10], encoder: simclr(16, 2), detector: 'gssd' }).warnings).toHaveLength(1);
    expect(buildVerdict({ flagged: [{ label: 0, test: 'ND' }], detection: d, classSizes: [10, 10, 10, 10], encoder: simclr(8, 1), detector: 'gssd' }).warnings).toEqual([]);
    // an encoder whose training is not recorded (an ONNX tower) gets no budget warning
    expect(buildVerdict({ flagged: [], detection: d, classSizes: [10, 10, 10, 10], encoder: { kind: 'onnx', width: null, epochs: null, source: 'x.onnx' }, detector: 'gssd' }).warnings).toEqual([]);
  });

  it(`warns when a class has more than ${LARGE_CLASS_RATIO}x the median class size`, () => {
    // a 10% all-to-one attack: the target has 1,000 + 900 rows, the others 900
    const sizes = [1900, 900, 900, 900, 900, 900, 900, 900, 900, 900];
    const v = buildVerdict({ flagged: [{ label: 0, test: 'ND' }], detection: null, classSizes: sizes, encoder: simclr(16, 5), detector: 'gssd' });
    expect(v.text).toBe('flagged: class 0 (ND-test)');
    expect(v.largestClass).toEqual({ label: 0, n: 1900, ratioToMedian: 2.111 });
    expect(v.warnings).toHaveLength(1);
    expect(v.warnings[0]).toMatch(/^class 0 has 1,900 rows, 2\.11x the median class size \(900/);
    // a 1% attack moves the target by 1.1x: no warning
    expect(buildVerdict({ flagged: [], detection: null, classSizes: [1090, 990, 990, 990], encoder: simclr(16, 5), detector: 'spectral' }).warnings).toEqual([]);
  });
});

/** A cleanse of clean procedural images with a tiny encoder: the CLI and report.json say what they know. */
describe.skipIf(!cliBuilt())('gssd cleanse of clean data', () => {
  let root: string;
  beforeAll(async () => {
    root = await tempDir('verdict');
    await writeSyntheticDataset(join(root, 'data'), { rows: 400, seed: 3 });
    const e = await runCli(['pretrain', join(root, 'data'), '--out', join(root, 'enc'), '--epochs', '1', '--width', '4', '--batch', '64']);
    expect(e.code, e.stderr).toBe(0);
  }, 120_000);

  it('prints "no class flagged" with the outlier index, and the budget warning', async () => {
    const out = join(root, 'run');
    const r = await runCli(['cleanse', join(root, 'data'), '--encoder', join(root, 'enc', 'encoder'), '--flow-epochs', '2', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
    expect(report.flagged).toEqual([]);
    const line = r.stdout.split('\n').find((l) => l.startsWith('rows: ')) ?? '';
    expect(line).toMatch(/^rows: 400; no class flagged: largest outlier index -?\d+\.\d\d \(class \d, (ND|D)-test\) against critical \d+\.\d\d$/);
    expect(line).toContain(report.verdict.nearest.index.toFixed(2));
    expect(report.verdict.nearest.index).toBeLessThan(report.verdict.nearest.critical);
    expect(r.stdout).not.toMatch(/declared clean|data is clean/);
    // the encoder of `gssd pretrain` records its budget: width 4 x 1 epoch is below the bench's
    expect(report.verdict.encoder).toMatchObject({ kind: 'simclr', width: 4, epochs: 1 });
    expect(r.stdout).toMatch(/^warning: the encoder \(SimCLR width 4 x 1 epochs\) is below/m);
    expect(report.verdict.classSizes).toEqual(Array(10).fill(40));
    const html = await readFile(join(out, 'report.html'), 'utf8');
    expect(html).toContain('no class flagged: largest outlier index');
    expect(html).toContain('id="class-sizes"');
  });

  it('report.json: cut points, per-class split counts and the extreme rows of each flagged class (a poisoned copy, --cut fixed)', async () => {
    const p = await runCli(['poison', join(root, 'data'), '--attack', 'badnets', '--out', join(root, 'poisoned'), '--seed', '2']);
    expect(p.code, p.stderr).toBe(0);
    const out = join(root, 'fixed');
    // paper detection: the width-4 x 1-epoch encoder's robust statistics flag nothing here, the paper D-test flags several classes (what this test needs)
    const args = ['--flow-epochs', '2', '--cut', 'fixed', '--target-detection', 'paper', '--out', out, '--json'];
    const r = await runCli(['cleanse', join(root, 'poisoned', 'data'), '--encoder', join(root, 'enc', 'encoder'), ...args]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    // the poisoned target (class 0) has 2.1x the median class size
    expect(report.verdict.largestClass.label).toBe(0);
    expect(r.stdout).toContain('the median class size');
    // label x split: every row once, each class's rows = its size
    const byClass = report.classSplits.byClass as Record<string, number>[];
    expect(byClass).toHaveLength(10);
    for (const split of ['clean', 'poisoned', 'uncertain', 'rejected']) expect(byClass.reduce((a, c) => a + c[split], 0) + report.classSplits.noLabel[split]).toBe(report.splits[split]);
    byClass.forEach((c, label) => expect(c.clean + c.poisoned + c.uncertain + c.rejected).toBe(report.verdict.classSizes[label]));
    expect(report.flagged.length).toBeGreaterThan(0);
    const rows = await readOutput(out);
    const labelOf = new Map(rows.map((x) => [x.id, x]));
    for (const f of report.flagged) {
      const cut = report.cuts.find((c: { label: number }) => c.label === f.label);
      const n = report.verdict.classSizes[f.label];
      expect(cut).toMatchObject({ test: f.test, mode: 'fixed', n, nPoisoned: Math.floor(0.15 * n), nClean: Math.floor(0.3 * n), tiesByRow: true });
      expect(byClass[f.label].poisoned).toBe(cut.nPoisoned);
      const view = report.scoreViews.find((v: { label: number }) => v.label === f.label);
      expect(view.counts.reduce((a: number, b: number) => a + b, 0)).toBe(n);
      expect(view.lowest).toHaveLength(8);
      // the extremes are real output rows with those scores, and the cut is where the poisoned rows end
      for (const x of [...view.lowest, ...view.highest]) {
        expect(Math.fround(labelOf.get(BigInt(x.id))!.score!)).toBe(Math.fround(x.score));
        expect(existsSync(join(out, 'checkpoint', 'thumbs', x.thumb))).toBe(true);
      }
      const poisonSide = f.test === 'ND' ? view.lowest[0] : view.highest[0];
      expect(labelOf.get(BigInt(poisonSide.id))!.split).toBe('poisoned');
      expect(f.test === 'ND' ? poisonSide.score <= cut.poisonThreshold : poisonSide.score >= cut.poisonThreshold).toBe(true);
    }
  });
});

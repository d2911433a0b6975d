import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSyntheticDataset } from '../../../pipelines/synthetic-data.js';
import { readBatches } from '../../../src/io/read.js';
import { initBackend } from '../../../src/models/backend.js';
import { ResNet } from '../../../src/models/resnet.js';
import { saveResNet } from '../../../src/models/save.js';
import { cliBuilt, runCli, tempDir } from '../fixture.js';
import { cleanseOptions } from '../../../src/cli/cleanse-command.js';
import { UsageError } from '../../../src/errors.js';

/** Every output row with all its columns (input and gssd_*), split by split in file order, as JSON. */
async function outputRows(out: string): Promise<string> {
  const rows: unknown[] = [];
  for (const split of ['clean', 'poisoned', 'uncertain', 'rejected']) {
    const dir = join(out, split);
    if (!existsSync(dir)) continue;
    const files = (await readdir(dir)).filter((f) => f.endsWith('.parquet')).sort().map((f) => join(dir, f));
    for await (const b of readBatches(files)) {
      const names = b.schema.fields.map((f) => f.name);
      for (let i = 0; i < b.numRows; i++) rows.push(names.map((n) => b.getChild(n)!.get(i)));
    }
  }
  return JSON.stringify(rows, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v));
}

interface Report {
  rows: number;
  splits: Record<string, number>;
  parameters: Record<string, unknown>;
  detection: unknown;
  fitSample?: { rowsPerClass: number; rowsFitted: number[] };
  costs: { fit: { rows: number } };
}

/**
 * `gssd cleanse --fit-rows-per-class N` end to end through the CLI: 600 procedural rows (10
 * classes of about 60), an untrained width-4 encoder, 3 flow epochs.
 */
describe.skipIf(!cliBuilt())('gssd cleanse --fit-rows-per-class', () => {
  let root: string;
  let data: string;
  let encoder: string;
  let labelCounts: number[];
  let plainRows: string;
  let plainReport: Report;
  const args = (out: string, ...more: string[]) => ['cleanse', data, '--encoder', encoder, '--flow-epochs', '3', '--batch-rows', '100', '--seed', '5', '--out', out, '--log', 'json', '--json', ...more];
  const run = async (out: string, ...more: string[]) => {
    const r = await runCli(args(out, ...more));
    expect(r.code, r.stderr).toBe(0);
    return { report: JSON.parse(r.stdout) as Report, stderr: r.stderr, rows: await outputRows(out) };
  };

  beforeAll(async () => {
    root = await tempDir('fit-sample');
    data = join(root, 'data');
    await writeSyntheticDataset(data, { rows: 600, seed: 8 });
    await initBackend('cpu');
    const net = new ResNet({ width: 4, imageSize: 32, seed: 1 });
    encoder = join(root, 'enc');
    await saveResNet(net, encoder);
    net.dispose();
    const plain = await run(join(root, 'plain'));
    plainRows = plain.rows;
    plainReport = plain.report;
    expect(plainReport.fitSample).toBeUndefined();
    expect('fitRowsPerClass' in plainReport.parameters).toBe(false);
    const state = JSON.parse(await readFile(join(root, 'plain', 'checkpoint', 'state.json'), 'utf8'));
    labelCounts = state.embed.labelCounts;
    expect(labelCounts).toHaveLength(10);
  }, 180_000);

  it('with N at least every class count fits on every row: the same output rows as without it (here the sample file is the whole cache)', { timeout: 120_000 }, async () => {
    // every class is whole (p_c = 1), no row is rejected and every class has a flow, so the
    // sample file holds every cache row in cache order and the epochs shuffle it as they shuffle
    // the cache; with a rejected row or a class without a flow the order would differ
    expect(plainReport.splits.rejected ?? 0).toBe(0);
    expect(Math.min(...labelCounts)).toBeGreaterThanOrEqual(2);
    const N = Math.max(...labelCounts);
    const { report, rows } = await run(join(root, 'all'), '--fit-rows-per-class', String(N));
    expect(rows).toBe(plainRows); // every column of every row, scores and likelihoods included
    expect(report.detection).toEqual(plainReport.detection);
    expect(report.splits).toEqual(plainReport.splits);
    expect(report.parameters.fitRowsPerClass).toBe(N);
    expect(report.fitSample).toEqual({ rowsPerClass: N, rowsFitted: labelCounts });
  });

  it('with a small N fits each class on about N rows and still routes every row; killed in the fit pass, the same seed resumes to the same output', { timeout: 240_000 }, async () => {
    const N = 20;
    const out = join(root, 'n20');
    const { report, rows, stderr } = await run(out, '--fit-rows-per-class', String(N));
    expect(report.parameters.fitRowsPerClass).toBe(N);
    const fitted = report.fitSample!.rowsFitted;
    labelCounts.forEach((n, c) => {
      const p = Math.min(1, N / n);
      // Binomial(n_c, p_c): within 4 standard deviations (a class of 60: 20 +- 14.6)
      expect(Math.abs(fitted[c] - n * p), `class ${c}: ${fitted[c]} of ${n}`).toBeLessThanOrEqual(4 * Math.sqrt(n * p * (1 - p)));
    });
    const sampled = fitted.reduce((a, b) => a + b, 0);
    expect(sampled).toBeLessThan(600 / 2);
    // every row routed once
    expect(report.rows).toBe(600);
    expect(Object.values(report.splits).reduce((a, b) => a + b, 0)).toBe(600);
    const parsed = JSON.parse(rows) as unknown[][];
    expect(parsed).toHaveLength(600);
    expect(new Set(parsed.map((r) => r[0])).size).toBe(600);
    expect(rows).not.toBe(plainRows); // other flows, other scores
    // the fit pass's progress and rows/s count the sampled rows: epochs x sampled rows
    const fitDone = stderr.trim().split('\n').map((l) => JSON.parse(l)).find((e) => e.event === 'fit done');
    expect(fitDone, stderr).toBeDefined();
    expect([fitDone.rows, report.costs.fit.rows]).toEqual([3 * sampled, 3 * sampled]);

    // the same seed again, killed after the first fit epoch and resumed: the same sample, the same rows
    const again = join(root, 'n20-killed');
    const k = await runCli(args(again, '--fit-rows-per-class', String(N)), { env: { GSSD_CRASH_AT: 'progress/fit:2' } });
    expect(k.signal, k.stderr).toBe('SIGKILL');
    const state = JSON.parse(await readFile(join(again, 'checkpoint', 'state.json'), 'utf8'));
    expect([state.pass, state.fit.epochsDone, state.fit.rowsFitted]).toEqual(['fit', 1, fitted]);
    // the epochs read the sample file (the sampled rows, h then label); gone, the resume writes it again
    const sampleFile = join(again, 'work', 'fit-sample.f32');
    expect((await stat(sampleFile)).size).toBe(sampled * (state.featureDim + 1) * 4);
    await rm(sampleFile);
    const resumed = await run(again, '--fit-rows-per-class', String(N), '--resume');
    expect(resumed.rows).toBe(rows);
    expect(resumed.report.fitSample).toEqual(report.fitSample);

    // a resume with another N is refused, naming it
    const other = await runCli(args(out, '--fit-rows-per-class', '30', '--resume'));
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/started with other options \(fitRowsPerClass: 20 then, 30 now\)/);
  });

  it('takes a positive integer N, for the gssd detector: else a one-line usage error (exit 2)', async () => {
    const r = await runCli(['cleanse', data, '--encoder', encoder, '--fit-rows-per-class', '0', '--out', join(root, 'bad')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).toMatch(/^gssd cleanse: .*--fit-rows-per-class.*got `0`/);
    const read = (more: Record<string, string>) => cleanseOptions({ out: 'x', 'fit-rows-per-class': '20', ...more }, ['in.parquet']);
    expect(read({}).fitRowsPerClass).toBe(20);
    expect(cleanseOptions({ out: 'x' }, ['in.parquet']).fitRowsPerClass).toBeUndefined();
    for (const bad of ['-1', '2.5', 'many', '']) expect(() => read({ 'fit-rows-per-class': bad }), bad).toThrow(UsageError);
    expect(() => read({ detector: 'knn' })).toThrow(/--detector knn fits no flows/);
    // the library checks it too
    const { cleanseOptions: libraryOptions } = await import('../../../pipelines/cleanse/options.js');
    expect(() => libraryOptions({ inputs: ['in.parquet'], out: 'x', fitRowsPerClass: 0.5 })).toThrow(/fitRowsPerClass/);
  });
});

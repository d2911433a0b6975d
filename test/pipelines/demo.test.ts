import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cliBuilt, runCli, tempDir } from './fixture.js';

describe.skipIf(!cliBuilt())('gssd demo', () => {
  it('poisons, cleanses and scores procedural images end to end (small budget)', async () => {
    const out = join(await tempDir('demo'), 'demo');
    const args = ['demo', '--out', out, '--data', 'synthetic', '--rows', '300', '--width', '4', '--pretrain-epochs', '1', '--flow-epochs', '2', '--json'];
    const r = await runCli(args);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.poisoned.poisoned).toBe(Math.floor(0.1 * 270));
    expect(result.evaluation.rows).toBe(300);
    expect(Object.values(result.report.splits as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(300);
    expect(result.evaluation.split.removalRecall).toBeGreaterThanOrEqual(0);
    // the demo's budget is too small for robust detection: paper thresholds, adaptive cut
    expect([result.report.parameters.targetDetection, result.report.parameters.cut]).toEqual(['paper', 'adaptive']);
    expect(existsSync(join(out, 'run', 'report.html'))).toBe(true);
    // a second demo replaces its own directory
    expect((await runCli(args)).code).toBe(0);
  }, 120_000);

  it('will not delete a directory it did not make', async () => {
    const r = await runCli(['demo', '--out', process.cwd(), '--data', 'synthetic']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not a gssd demo directory/);
  });
});

import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { renderReportHtml } from '../../pipelines/cleanse/report-html.js';
import { decideDetection } from '../../src/detect/detect-targets.js';
import { detectionOptions } from '../../src/detect/options.js';
import type { CleanseReport } from '../../pipelines/cleanse/report.js';
import { buildVerdict } from '../../pipelines/cleanse/verdict.js';
import { tempDir } from './fixture.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

function sampleReport(): CleanseReport {
  const K = 4;
  const hists = Array.from({ length: K }, (_, c) => ({
    label: c,
    n: 100,
    min: 0.1,
    max: 0.9,
    edges: Array.from({ length: 31 }, (_, k) => 0.1 + (0.8 * k) / 30),
    counts: Array.from({ length: 30 }, (_, k) => (c === 0 && k < 3 ? 8 : k > 20 ? 7 : 1)),
  }));
  const nd = [0.3, 0.7, 0.72, 0.69].map((statistic, label) => ({ label, statistic, nOther: 300 }));
  const detection = decideDetection(hists, nd, detectionOptions({ mode: 'paper' }));
  return {
    gssdVersion: '0.0.0',
    detector: 'gssd',
    baseline: null,
    createdAt: '2026-01-01T00:00:00Z',
    backend: 'wasm',
    runtimes: { pretrain: null, embed: 'onnx-cpu', score: 'onnx-cpu' },
    inputs: ['a.parquet'],
    rows: 400,
    numClasses: K,
    featureDim: 64,
    parameters: { seed: 0 },
    flagged: detection.flagged,
    verdict: buildVerdict({ flagged: detection.flagged, detection, classSizes: [100, 100, 100, 100], encoder: { kind: 'simclr', width: 16, epochs: 5, source: 'test' }, detector: 'gssd' }),
    splits: { clean: 340, poisoned: 15, uncertain: 45, rejected: 0 },
    detection,
    costs: { embed: { seconds: 1.5, peakRssMB: 200, rows: 400, rowsPerSec: 266 } },
    wallSeconds: 3,
  };
}

describe('report.html', () => {
  it('is one self-contained page: histograms, flagged classes, splits; no scripts, no network', () => {
    const html = renderReportHtml(sampleReport());
    expect(html.match(/<svg/g)!.length).toBeGreaterThanOrEqual(5);
    expect(html).toContain('class 0 (D-test)');
    expect(html).toMatch(/poisoned<\/td><td class="num">15</);
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\//);
  });

  it.skipIf(!CHROMIUM)('renders in headless Chromium', async () => {
    const dir = await tempDir('html');
    const file = join(dir, 'report.html');
    await writeFile(file, renderReportHtml(sampleReport()));
    const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${join(dir, 'profile')}`];
    const png = join(dir, 'shot.png');
    await promisify(execFile)(CHROMIUM!, [...flags, '--window-size=1200,1600', `--screenshot=${png}`, `file://${file}`], { timeout: 60_000 });
    expect((await stat(png)).size).toBeGreaterThan(20_000);
    const { stdout } = await promisify(execFile)(CHROMIUM!, [...flags, '--dump-dom', `file://${file}`], { timeout: 60_000, maxBuffer: 1 << 24 });
    expect(stdout).toContain('gssd cleanse report');
    expect(stdout).toContain('class 0 (D-test)');
    expect((await readFile(png)).subarray(1, 4).toString()).toBe('PNG');
  });
});
if (!CHROMIUM) console.log('[skip] report.html rendering: Debian package chromium is not installed');

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
import { PNG } from 'pngjs';
import { encodePng } from '../../src/io/png.js';

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
    classSplits: {
      byClass: [
        { clean: 40, poisoned: 15, uncertain: 45, rejected: 0 },
        { clean: 100, poisoned: 0, uncertain: 0, rejected: 0 },
        { clean: 100, poisoned: 0, uncertain: 0, rejected: 0 },
        { clean: 100, poisoned: 0, uncertain: 0, rejected: 0 },
      ],
      noLabel: { clean: 0, poisoned: 0, uncertain: 0, rejected: 0 },
    },
    cuts: [{ label: 0, test: 'D', mode: 'adaptive', n: 100, nPoisoned: 15, nClean: 40, poisonThreshold: 0.5, cleanThreshold: -0.2, tiesByRow: false }],
    scoreViews: [
      {
        label: 0,
        n: 100,
        edges: Array.from({ length: 21 }, (_, k) => -1 + (2 * k) / 20),
        counts: Array.from({ length: 20 }, (_, k) => (k > 15 ? 4 : 6)),
        lowest: Array.from({ length: 4 }, (_, j) => ({ eligible: j, score: -1 + j / 10, row: j, id: String(j), thumb: 'low.png' })),
        highest: Array.from({ length: 4 }, (_, j) => ({ eligible: 90 + j, score: 1 - j / 10, row: 90 + j, id: String(90 + j), thumb: j === 3 ? null : 'high.png' })),
      },
    ],
    detection,
    costs: { embed: { seconds: 1.5, peakRssMB: 200, rows: 400, rowsPerSec: 266 } },
    wallSeconds: 3,
  };
}

/** Thumbnails of one flat colour (magenta for the low end, green for the high end), so the screenshot can find them. */
function thumbnails(): Map<string, string> {
  const flat = (rgb: number[]) => Buffer.from(encodePng(Uint8Array.from({ length: 32 * 32 * 3 }, (_, i) => rgb[i % 3]), 32)).toString('base64');
  return new Map([
    ['low.png', flat([255, 0, 255])],
    ['high.png', flat([0, 200, 0])],
  ]);
}

describe('report.html', () => {
  it('is one self-contained page: histograms, flagged classes, splits; no scripts, no network', () => {
    const html = renderReportHtml(sampleReport(), thumbnails());
    expect(html.match(/<svg/g)!.length).toBeGreaterThanOrEqual(6);
    expect(html).toContain('flagged: class 0 (D-test)');
    expect(html).toMatch(/poisoned<\/td><td class="num">15</);
    // images only as inline data: URIs
    expect(html).not.toMatch(/<script|<link|src="(?!data:image\/png;base64,)|https?:\/\//);
  });

  it('shows the label x split table, and for a flagged class the score histogram with its cuts and the thumbnails of both ends', () => {
    const html = renderReportHtml(sampleReport(), thumbnails());
    expect(html).toMatch(/<th>label<\/th><th>rows<\/th><th>x median<\/th><th>clean<\/th><th>poisoned<\/th><th>uncertain<\/th><th>rejected<\/th>/);
    expect(html).toMatch(/<td>class 0 \(flagged\)<\/td><td class="num">100<\/td><td class="num">1.00x<\/td><td class="num">40<\/td><td class="num">15<\/td><td class="num">45<\/td>/);
    const section = html.slice(html.indexOf('<section id="scores-class-0">'), html.indexOf('</section>'));
    expect(section).toContain('aria-label="histogram of gssd_score"');
    expect(section).toContain('poison 0.500');
    expect(section).toContain('clean -0.200');
    expect(section.match(/<img src="data:image\/png;base64,/g)).toHaveLength(7);
    expect(section.match(/class="nothumb"/g)).toHaveLength(1);
    expect(section).toContain('id 90<br>1.000');
    expect(html).not.toContain('scores-class-1');
  });

  it.skipIf(!CHROMIUM)('renders in headless Chromium', async () => {
    const dir = await tempDir('html');
    const file = join(dir, 'report.html');
    await writeFile(file, renderReportHtml(sampleReport(), thumbnails()));
    const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${join(dir, 'profile')}`];
    const png = join(dir, 'shot.png');
    await promisify(execFile)(CHROMIUM!, [...flags, '--window-size=1200,2000', `--screenshot=${png}`, `file://${file}`], { timeout: 60_000 });
    expect((await stat(png)).size).toBeGreaterThan(20_000);
    const { stdout } = await promisify(execFile)(CHROMIUM!, [...flags, '--dump-dom', `file://${file}`], { timeout: 60_000, maxBuffer: 1 << 24 });
    expect(stdout).toContain('gssd cleanse report');
    expect(stdout).toContain('flagged: class 0 (D-test)');
    expect(stdout).toContain('id="class-sizes"');
    expect(stdout).toContain('id="scores-class-0"');
    const shot = PNG.sync.read(await readFile(png));
    // the thumbnails were drawn: blocks of the low end's magenta and the high end's green
    const count = (rgb: number[]) => {
      let n = 0;
      for (let i = 0; i < shot.data.length; i += 4) if (Math.abs(shot.data[i] - rgb[0]) + Math.abs(shot.data[i + 1] - rgb[1]) + Math.abs(shot.data[i + 2] - rgb[2]) < 12) n++;
      return n;
    };
    expect(count([255, 0, 255])).toBeGreaterThan(4 * 50 * 50);
    expect(count([0, 200, 0])).toBeGreaterThan(3 * 50 * 50);
  });
});
if (!CHROMIUM) console.log('[skip] report.html rendering in headless Chromium: /usr/bin/chromium is absent (apt-get install -y chromium)');

import type { ClassDetection, DetectionReport } from '../../src/detect/detection-report.js';
import type { CleanseReport } from './report.js';
import { classTitle } from '../../src/io/class-names.js';

/**
 * report.html: one self-contained page (inline SVG and CSS, no scripts, no network) with the
 * split counts, the flagged classes and why, and per class the D-test histogram of u with
 * the lambda line and the valley, and the ND statistic against its threshold.
 *
 * @example
 *   await writeFile('report.html', renderReportHtml(report));
 */
export function renderReportHtml(r: CleanseReport): string {
  const d = r.detection;
  const flaggedText = r.flagged.length
    ? r.flagged.map((f) => `${classTitle(f.label, r.classNames)} (${f.test}${f.test === 'D' || f.test === 'ND' ? '-test' : ''})`).join(', ')
    : 'none: the data was declared clean';
  const splitRows = (Object.entries(r.splits) as [string, number][])
    .map(([k, v]) => `<tr><td>${k}</td><td class="num">${v.toLocaleString('en-US')}</td><td class="num">${pct(v, r.rows)}</td></tr>`)
    .join('');
  const costRows = Object.entries(r.costs)
    .map(([pass, c]) => `<tr><td>${pass}</td><td class="num">${c!.seconds.toFixed(1)} s</td><td class="num">${c!.peakRssMB} MB</td><td class="num">${c!.rowsPerSec ?? ''}</td></tr>`)
    .join('');
  const mode = d ? `detection mode ${esc(d.mode)}${d.mode !== d.requestedMode ? ` (asked: ${esc(d.requestedMode)})` : ''}` : `detector ${esc(r.detector)}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gssd cleanse report</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}.num{text-align:right}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(270px,1fr));gap:14px}
.card{border:1px solid #ccc;border-radius:6px;padding:8px}.card.flag{border-color:#c0392b;background:#fff5f4}
.muted{color:#666}.bad{color:#c0392b;font-weight:600}
</style></head><body>
<h1>gssd cleanse report</h1>
<p class="muted">gssd ${esc(r.gssdVersion)}, ${esc(r.createdAt)}, backend ${esc(r.backend)} (embed ${esc(r.runtimes?.embed ?? 'n/a')}, score ${esc(r.runtimes?.score ?? 'n/a')}), ${r.rows.toLocaleString('en-US')} rows, ${r.numClasses} classes, feature dimension ${r.featureDim}, ${mode}, wall time ${r.wallSeconds.toFixed(1)} s</p>
<h2>Flagged classes</h2><p class="${r.flagged.length ? 'bad' : ''}">${esc(flaggedText)}</p>
${d && d.notes.length ? `<ul>${d.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : ''}
<h2>Splits</h2><table><tr><th>split</th><th>rows</th><th>share</th></tr>${splitRows}</table>
${d ? detectionSections(d, r.classNames ?? null) : baselineSection(r)}
<h2>Cost per pass</h2><table><tr><th>pass</th><th>wall</th><th>peak RSS</th><th>rows/s</th></tr>${costRows}</table>
<h2>Parameters</h2><pre>${esc(JSON.stringify(r.parameters, null, 1))}</pre>
</body></html>
`;
}

function detectionSections(d: DetectionReport, names: string[] | null = null): string {
  const ndMax = Math.max(d.options.betaND * 1.5, ...d.classes.map((c) => c.ndTest.statistic ?? 0));
  return `<h2>ND-test: -mean log-likelihood of other classes' rows under each class's flow</h2>
${ndChart(d.classes, d.mode === 'paper' ? d.options.betaND : null, ndMax)}
<p class="muted">${d.mode === 'paper' ? `A class is flagged when its statistic is below beta_ND = ${d.options.betaND} (dashed line).` : 'Robust mode: a class is flagged when its statistic is a low outlier against the other classes (its outlier index above the critical value).'}</p>
<h2>D-test: histogram of u = max over other classes of exp(L) for each class's rows</h2>
<p class="muted">Dashed line: lambda = ${d.options.lambda}. Shaded: the low mode below the valley (bins before m), S rows. ${d.mode === 'paper' ? `Flagged when m &ne; 0, S &gt; ${d.options.betaD} N and S &ge; 2 h_m.` : 'Robust mode flags a class whose share of rows with u below the 1% quantile of the other classes is an outlier.'}</p>
<div class="grid">${d.classes.map((c) => classCard(c, d.options.lambda, names)).join('')}</div>`;
}

function baselineSection(r: CleanseReport): string {
  const b = r.baseline;
  if (!b) return '';
  const rows = b.classes
    .map((c) => `<tr${c.flagged ? ' class="bad"' : ''}><td>${esc(classTitle(c.label, r.classNames))}</td><td class="num">${c.n}</td><td class="num">${c.removed}</td><td class="num">${pct(c.removed, c.n)}</td><td>${c.flagged ? 'flagged' : ''}</td></tr>`)
    .join('');
  return `<h2>${esc(b.method)}: rows removed per class</h2><table><tr><th>class</th><th>rows</th><th>removed</th><th>share</th><th></th></tr>${rows}</table>`;
}

function classCard(c: ClassDetection, lambda: number, names: string[] | null = null): string {
  const t = c.dTest;
  const why = c.flaggedBy ? `<span class="bad">flagged by the ${c.flaggedBy}-test</span>` : 'not flagged';
  const nd = c.ndTest.statistic === null ? 'n/a' : c.ndTest.statistic.toFixed(3);
  const detail = t.skipped ? `D-test skipped: ${esc(t.skipped)}` : `m = ${t.m ?? '-'}, S = ${t.S} (${pct(t.S, c.n)} of the class)`;
  return `<div class="card${c.flaggedBy ? ' flag' : ''}"><b>${esc(classTitle(c.label, names))}</b> &middot; n = ${c.n} &middot; ${why}<br>${histogram(t.edges, t.counts, lambda, t.m ?? 0)}<div class="muted">${detail}; ND statistic ${nd}${c.ndTest.index != null ? `, outlier index ${c.ndTest.index.toFixed(2)}${c.ndTest.critical != null ? ` (critical ${c.ndTest.critical.toFixed(2)})` : ''}` : ''}</div></div>`;
}

function histogram(edges: number[], counts: number[], lambda: number, m: number): string {
  const W = 250;
  const H = 90;
  if (!counts.length || edges.length < 2) return `<svg width="${W}" height="${H}" role="img" aria-label="no histogram"><text x="8" y="45" fill="#999">no data</text></svg>`;
  const lo = edges[0];
  const hi = edges[edges.length - 1];
  const span = hi - lo || 1;
  const x = (v: number) => ((v - lo) / span) * (W - 10) + 5;
  const top = Math.max(...counts, 1);
  const bars = counts
    .map((h, k) => {
      const bh = (h / top) * (H - 20);
      return `<rect x="${x(edges[k]).toFixed(1)}" y="${(H - 12 - bh).toFixed(1)}" width="${Math.max(0.5, x(edges[k + 1]) - x(edges[k]) - 0.5).toFixed(1)}" height="${bh.toFixed(1)}" fill="${k < m ? '#e07b6d' : '#5b8bd0'}"/>`;
    })
    .join('');
  const lx = lambda >= lo && lambda <= hi ? `<line x1="${x(lambda).toFixed(1)}" x2="${x(lambda).toFixed(1)}" y1="4" y2="${H - 12}" stroke="#333" stroke-dasharray="3 2"/>` : '';
  return `<svg width="${W}" height="${H}" role="img" aria-label="histogram of u">${bars}${lx}<text x="4" y="${H - 1}" font-size="9" fill="#666">${lo.toPrecision(3)}</text><text x="${W - 4}" y="${H - 1}" font-size="9" fill="#666" text-anchor="end">${hi.toPrecision(3)}</text></svg>`;
}

function ndChart(classes: ClassDetection[], threshold: number | null, max: number): string {
  const rowH = 18;
  const W = 520;
  const H = classes.length * rowH + 10;
  const x = (v: number) => 70 + (Math.max(0, v) / (max || 1)) * (W - 90);
  const bars = classes
    .map((c, i) => {
      const v = c.ndTest.statistic ?? 0;
      const y = 5 + i * rowH;
      return `<text x="0" y="${y + 12}" font-size="11">class ${c.label}</text><rect x="70" y="${y + 2}" width="${(x(v) - 70).toFixed(1)}" height="${rowH - 5}" fill="${c.flaggedBy === 'ND' ? '#e07b6d' : '#5b8bd0'}"/><text x="${(x(v) + 4).toFixed(1)}" y="${y + 12}" font-size="10" fill="#444">${c.ndTest.statistic === null ? 'n/a' : v.toFixed(3)}</text>`;
    })
    .join('');
  const t = threshold !== null ? `<line x1="${x(threshold).toFixed(1)}" x2="${x(threshold).toFixed(1)}" y1="0" y2="${H}" stroke="#333" stroke-dasharray="3 2"/>` : '';
  return `<svg width="${W}" height="${H}" role="img" aria-label="ND statistics">${bars}${t}</svg>`;
}

function pct(a: number, b: number): string {
  return b > 0 ? `${((100 * a) / b).toFixed(1)}%` : '-';
}

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[ch]!);
}

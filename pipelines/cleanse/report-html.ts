import type { ClassDetection, DetectionReport } from '../../src/detect/detection-report.js';
import type { CleanseReport } from './report.js';
import { classTitle } from '../../src/io/class-names.js';

/**
 * report.html: one self-contained page (inline SVG and CSS, no scripts, no network) with the
 * split counts, the verdict and its warnings, the label x split table, for each flagged class
 * the histogram of gssd_score with the cut points and thumbnails (`thumbnails`: base64 PNG by
 * file name) of its lowest- and highest-scoring rows, and per class the D-test histogram of u
 * with the lambda line and the valley, and the ND statistic against its threshold.
 *
 * @example
 *   await writeFile('report.html', renderReportHtml(report));
 */
export function renderReportHtml(r: CleanseReport, thumbnails: ReadonlyMap<string, string> = new Map()): string {
  const d = r.detection;
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
.muted{color:#666}.bad{color:#c0392b;font-weight:600}.strip{display:flex;flex-wrap:wrap;gap:6px;margin:4px 0 10px}.strip figure{margin:0;text-align:center;font-size:10px;color:#555}
.strip img{width:64px;height:64px;image-rendering:pixelated;border:1px solid #bbb;display:block}.nothumb{width:64px;height:64px;border:1px dashed #bbb;display:flex;align-items:center;justify-content:center}
.warn{background:#fff4d6;border-left:4px solid #e0a800;padding:4px 8px;margin:4px 0}
</style></head><body>
<h1>gssd cleanse report</h1>
<p class="muted">gssd ${esc(r.gssdVersion)}, ${esc(r.createdAt)}, backend ${esc(r.backend)} (embed ${esc(r.runtimes?.embed ?? 'n/a')}, score ${esc(r.runtimes?.score ?? 'n/a')}), ${r.rows.toLocaleString('en-US')} rows, ${r.numClasses} classes, feature dimension ${r.featureDim}, ${mode}, wall time ${r.wallSeconds.toFixed(1)} s</p>
${verdictSection(r)}
${d && d.notes.length ? `<ul>${d.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : ''}
<h2>Splits</h2><table><tr><th>split</th><th>rows</th><th>share</th></tr>${splitRows}</table>
${scoreSections(r, thumbnails)}
${d ? detectionSections(d, r.classNames ?? null) : baselineSection(r)}
<h2>Cost per pass</h2><table><tr><th>pass</th><th>wall</th><th>peak RSS</th><th>rows/s</th></tr>${costRows}</table>
<h2>Parameters</h2><pre>${esc(JSON.stringify(r.parameters, null, 1))}</pre>
</body></html>
`;
}

/** The verdict line, its warnings and the class sizes (usable rows, ratio to the median). */
function verdictSection(r: CleanseReport): string {
  const v = r.verdict;
  const warnings = v.warnings.map((w) => `<p class="warn">warning: ${esc(w)}</p>`).join('');
  const caveat = v.flagged.length
    ? ''
    : `<p class="muted">A run that flags no class does not show that the data is clean: the bench's 1% adaptive attacks stayed below the critical value even with a width-16 x 5-epoch encoder. Encoder: ${esc(encoderText(v.encoder))}.</p>`;
  const splitNames = ['clean', 'poisoned', 'uncertain', 'rejected'] as const;
  const cs = r.classSplits;
  const splitCells = (x: Record<string, number> | undefined) => (cs ? splitNames.map((k) => `<td class="num">${(x?.[k] ?? 0).toLocaleString('en-US')}</td>`).join('') : '');
  const flagged = new Set(v.flagged);
  const sizes = v.classSizes
    .map((n, c) => {
      const ratio = v.medianClassSize > 0 ? n / v.medianClassSize : 0;
      return `<tr${ratio > v.largeClassRatio ? ' class="bad"' : ''}><td>${esc(classTitle(c, r.classNames))}${flagged.has(c) ? ' (flagged)' : ''}</td><td class="num">${n.toLocaleString('en-US')}</td><td class="num">${ratio.toFixed(2)}x</td>${splitCells(cs?.byClass[c])}</tr>`;
    })
    .join('');
  const noLabel = cs && splitNames.some((k) => cs.noLabel[k] > 0) ? `<tr><td>no usable label</td><td></td><td></td>${splitCells(cs.noLabel)}</tr>` : '';
  return `<h2>Verdict</h2><p class="${v.flagged.length ? 'bad' : ''}" id="verdict">${esc(v.text)}</p>${warnings}${caveat}
<h2>Rows per class: size and split</h2><p class="muted">Usable rows per class, their ratio to the median class size (${v.medianClassSize.toLocaleString('en-US')}; a class above ${v.largeClassRatio}x is marked)${cs ? ', and where the rows of each label went' : ''}.</p>
<table id="class-sizes"><tr><th>label</th><th>rows</th><th>x median</th>${cs ? splitNames.map((k) => `<th>${k}</th>`).join('') : ''}</tr>${sizes}${noLabel}</table>`;
}

function encoderText(e: CleanseReport['verdict']['encoder']): string {
  const size = e.width !== null || e.epochs !== null ? `, width ${e.width ?? '?'} x ${e.epochs ?? '?'} epochs` : '';
  return `${e.kind}${size} (${e.source})`;
}

/** Per flagged class: the histogram of gssd_score with the cut points, and the rows at both ends. */
function scoreSections(r: CleanseReport, thumbnails: ReadonlyMap<string, string>): string {
  if (!r.scoreViews?.length) return '';
  return r.scoreViews
    .map((v) => {
      const cut = r.cuts.find((c) => c.label === v.label) ?? null;
      const nd = (cut?.test ?? 'ND') === 'ND';
      const cutText = cut
        ? `${cut.mode} cut: poisoned ${nd ? '&le;' : '&ge;'} ${num(cut.poisonThreshold)} (${cut.nPoisoned.toLocaleString('en-US')} rows), clean ${nd ? '&ge;' : '&le;'} ${num(cut.cleanThreshold)} (${cut.nClean.toLocaleString('en-US')} rows), uncertain between`
        : 'no cut';
      const strip = (title: string, rows: CleanseReport['scoreViews'][number]['lowest']) =>
        `<div class="muted">${title}</div><div class="strip">${rows
          .map((x) => {
            const b64 = x.thumb ? thumbnails.get(x.thumb) : undefined;
            const img = b64 ? `<img src="data:image/png;base64,${b64}" alt="row ${esc(x.id ?? String(x.eligible))}">` : '<div class="nothumb">n/a</div>';
            return `<figure>${img}<figcaption>id ${esc(x.id ?? '?')}<br>${x.score.toFixed(3)}</figcaption></figure>`;
          })
          .join('')}</div>`;
      return `<section id="scores-class-${v.label}"><h2>Class ${v.label}: gssd_score (${v.n.toLocaleString('en-US')} rows, ${cut ? `${esc(cut.test)}-test` : 'flagged'})</h2>
${scoreHistogram(v.edges, v.counts, cut, nd)}
<p class="muted">${cutText}. ${nd ? 'The ND-test puts the poison at the low end' : 'The D-test puts the poison at the high end'}; a trigger shows on the thumbnails of that end.</p>
${strip(`lowest scores${nd ? ' (poisoned side)' : ' (clean side)'}`, v.lowest)}${strip(`highest scores${nd ? ' (clean side)' : ' (poisoned side)'}`, v.highest)}</section>`;
    })
    .join('\n');
}

function scoreHistogram(edges: number[], counts: number[], cut: CleanseReport['cuts'][number] | null, nd: boolean): string {
  const W = 560;
  const H = 150;
  if (edges.length < 2) return `<svg width="${W}" height="40" role="img" aria-label="no scores"><text x="8" y="25" fill="#999">no scores</text></svg>`;
  const lo = edges[0];
  const hi = edges[edges.length - 1];
  const span = hi - lo || 1;
  const x = (v: number) => ((v - lo) / span) * (W - 20) + 10;
  const top = Math.max(...counts, 1);
  const poisonSide = (v: number) => cut?.poisonThreshold != null && (nd ? v <= cut.poisonThreshold : v >= cut.poisonThreshold);
  const bars = counts
    .map((h, k) => {
      const bh = (h / top) * (H - 40);
      const mid = (edges[k] + edges[k + 1]) / 2;
      return `<rect x="${x(edges[k]).toFixed(1)}" y="${(H - 22 - bh).toFixed(1)}" width="${Math.max(0.5, x(edges[k + 1]) - x(edges[k]) - 0.5).toFixed(1)}" height="${bh.toFixed(1)}" fill="${poisonSide(mid) ? '#e07b6d' : '#5b8bd0'}"/>`;
    })
    .join('');
  const line = (v: number | null | undefined, color: string, label: string) =>
    v != null && v >= lo && v <= hi
      ? `<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="12" y2="${H - 22}" stroke="${color}" stroke-width="2" stroke-dasharray="4 2"/><text x="${x(v).toFixed(1)}" y="${label === 'poison' ? 10 : 22}" font-size="10" fill="${color}" text-anchor="middle">${label} ${v.toPrecision(3)}</text>`
      : '';
  return `<svg width="${W}" height="${H}" role="img" aria-label="histogram of gssd_score">${bars}${line(cut?.poisonThreshold, '#c0392b', 'poison')}${line(cut?.cleanThreshold, '#1e8449', 'clean')}<text x="6" y="${H - 6}" font-size="10" fill="#666">${lo.toPrecision(3)}</text><text x="${W - 6}" y="${H - 6}" font-size="10" fill="#666" text-anchor="end">${hi.toPrecision(3)}</text><text x="${W / 2}" y="${H - 6}" font-size="10" fill="#666" text-anchor="middle">gssd_score</text></svg>`;
}

function num(v: number | null): string {
  return v === null ? 'none' : v.toPrecision(4);
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

import { classTitle } from '../../src/io/class-names.js';
import type { CleanseReport } from './report.js';

/** The few lines `gssd cleanse` prints when it is done. */
export function formatCleanseSummary(r: CleanseReport, out: string): string {
  const splits = Object.entries(r.splits).map(([k, v]) => `${k} ${v}`).join(', ');
  const names = r.classNames?.length
    ? [`classes (from the input's metadata): ${r.classNames.slice(0, 20).map((n, k) => `${k} ${n}`).join(', ')}${r.classNames.length > 20 ? `, ... (${r.classNames.length})` : ''}`]
    : [];
  return [
    ...names,
    `rows: ${r.rows}; ${r.verdict.text}`,
    ...r.verdict.warnings.map((w) => `warning: ${w}`),
    `splits: ${splits}`,
    ...(r.duplicateIds?.rows ? [`warning: ${r.duplicateIds.rows} rows repeat the id of an earlier row (${r.duplicateIds.ids} ids, e.g. ${r.duplicateIds.examples.join(', ')}); kept`] : []),
    `report: ${out}/report.html (and report.json); wall time ${r.wallSeconds.toFixed(1)} s on ${r.backend}`,
    '',
  ].join('\n');
}

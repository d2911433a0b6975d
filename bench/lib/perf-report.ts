/**
 * The per-stage throughput report of `bench/perf.ts`: one JSON document and a Markdown table.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Rate } from './rate.js';

/** One line of the report: our figure, and the PyTorch figure it is compared with, if any. */
export interface PerfRow {
  stage: string;
  what: string;
  unit: string;
  rate: Rate;
  /** PyTorch CPU figure measured in the same run. */
  torch?: number;
  /** PyTorch CPU figure of docs/architecture.md (this machine, idle). */
  torchIdle?: number;
  /** Minimum ratio ours / torch wanted. */
  target?: number;
  note?: string;
}

export interface PerfReport {
  date: string;
  command: string;
  machine: { cpus: number; model: string; node: string; onnxruntime: string; tfjsBackend: string; onnxProvider: string };
  settings: Record<string, unknown>;
  rows: PerfRow[];
  torch: { command?: string; figures?: Record<string, number>; skipped?: string; seconds?: number; loadBefore?: number; loadAfter?: number };
  /** Interleaved encoder-forward comparisons (ours, torch) at width 64. */
  interleaved: { ours: number; torch: number }[];
  peakRssMB: number;
  rssAfterStageMB: Record<string, number>;
  notes: string[];
}

const fmt = (v: number | undefined, digits = 0): string => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits));

/**
 * The Markdown text of a report.
 *
 * @example
 *   console.log(perfMarkdown(report));
 */
export function perfMarkdown(r: PerfReport): string {
  const lines = [
    `# gssd per-stage throughput (${r.date})`,
    '',
    `Command: \`${r.command}\``,
    '',
    `Machine: ${r.machine.cpus} CPUs (${r.machine.model}), Node ${r.machine.node}, onnxruntime-node ${r.machine.onnxruntime} (${r.machine.onnxProvider}), TF.js backend ${r.machine.tfjsBackend}.`,
    `Settings: ${Object.entries(r.settings)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(', ')}.`,
    '',
    '| stage | what | ours (wall) | ours (per CPU-second) | PyTorch CPU, same run | ratio | PyTorch docs/architecture.md (idle) | ratio | target | load avg | note |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const row of r.rows) {
    const ratio = row.torch ? row.rate.perSecond / row.torch : undefined;
    const idle = row.torchIdle ? row.rate.perSecond / row.torchIdle : undefined;
    lines.push(
      `| ${row.stage} | ${row.what} (${row.unit}) | ${fmt(row.rate.perSecond)} | ${fmt(row.rate.perCpuSecond)} | ${fmt(row.torch)} | ${ratio ? fmt(ratio, 2) + 'x' : '-'} | ${fmt(row.torchIdle)} | ${idle ? fmt(idle, 2) + 'x' : '-'} | ${row.target ? row.target + 'x' : '-'} | ${fmt(row.rate.load, 1)} | ${row.note ?? ''} |`,
    );
  }
  lines.push('');
  if (r.torch.skipped) lines.push(`PyTorch reference skipped: ${r.torch.skipped}`);
  else if (r.torch.command) {
    lines.push(`PyTorch reference: \`${r.torch.command}\` (${fmt(r.torch.seconds)} s, load avg ${fmt(r.torch.loadBefore, 1)} -> ${fmt(r.torch.loadAfter, 1)}) -> ${JSON.stringify(r.torch.figures)}`);
  }
  if (r.interleaved.length) {
    lines.push('', 'Encoder forward, width 64, batch 256, ONNX and PyTorch measured alternately (images/s):', '');
    lines.push('| round | ONNX | PyTorch | ratio |', '| --- | --- | --- | --- |');
    r.interleaved.forEach((x, i) => lines.push(`| ${i + 1} | ${fmt(x.ours, 1)} | ${fmt(x.torch, 1)} | ${fmt(x.ours / x.torch, 2)}x |`));
  }
  lines.push('', `Peak RSS: ${fmt(r.peakRssMB)} MB (after each stage: ${Object.entries(r.rssAfterStageMB).map(([k, v]) => `${k} ${fmt(v)} MB`).join(', ')}).`);
  for (const n of r.notes) lines.push('', `- ${n}`);
  return lines.join('\n') + '\n';
}

/**
 * Writes `perf.json` and `perf.md` into `dir`.
 *
 * @example
 *   await writePerfReport('bench/results', report);
 */
export async function writePerfReport(dir: string, r: PerfReport): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'perf.json'), JSON.stringify(r, null, 2) + '\n');
  await writeFile(join(dir, 'perf.md'), perfMarkdown(r));
}

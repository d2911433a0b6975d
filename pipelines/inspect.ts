import type { Field } from 'apache-arrow';
import { countRows, readChunks, readFooters, type ReadOptions } from '../src/io/read.js';
import { imageBytesAt, resolveColumns } from '../src/io/columns.js';
import { imageInfo } from '../src/io/image-info.js';
import { Progress } from '../src/progress.js';
import { silentLogger, type Logger } from '../src/log.js';

/** What `gssd inspect` reports for one input, or for all of them together. */
export interface InspectSummary {
  input: string;
  rows: number;
  columns: { name: string; type: string }[];
  /** Rows per label value (label -> count), sorted by label. */
  labels: Record<string, number>;
  /** From a sample of up to `sampleRows` rows per input: formats and pixel sizes seen. */
  imageFormats: Record<string, number>;
  imageSizes: Record<string, number>;
  sampledImages: number;
}

/**
 * Row counts, columns, per-label counts, and image formats and sizes (from a sample) per
 * input and in total, streaming (constant memory).
 *
 * @example
 *   const { inputs, total } = await inspect(['train-*.parquet']);
 *   console.log(total.rows, total.labels);
 */
export async function inspect(
  inputs: string[],
  options: ReadOptions & { sampleRows?: number } = {},
  log: Logger = silentLogger,
): Promise<{ inputs: InspectSummary[]; total: InspectSummary }> {
  const sampleRows = options.sampleRows ?? 256;
  const columns = resolveColumns(options.columns);
  const per: InspectSummary[] = inputs.map((input) => empty(input));
  const progress = new Progress(log, 'inspect', log.tty ? await countRows(inputs, options) : undefined);
  for await (const chunk of readChunks(inputs, options)) {
    const s = per[chunk.inputIndex];
    if (s.columns.length === 0) s.columns = columnsOf(chunk.batch.schema.fields);
    const labels = chunk.batch.getChild(columns.label)!;
    for (let i = 0; i < chunk.batch.numRows; i++) {
      const key = String(labels.get(i));
      s.labels[key] = (s.labels[key] ?? 0) + 1;
      if (s.sampledImages < sampleRows) {
        const bytes = imageBytesAt(chunk.batch, columns, i);
        const info = bytes ? imageInfo(bytes) : { format: 'null', width: null, height: null };
        s.imageFormats[info.format] = (s.imageFormats[info.format] ?? 0) + 1;
        const size = info.width ? `${info.width}x${info.height}` : 'unknown';
        s.imageSizes[size] = (s.imageSizes[size] ?? 0) + 1;
        s.sampledImages++;
      }
    }
    s.rows += chunk.batch.numRows;
    progress.add(chunk.batch.numRows);
  }
  progress.done();
  // an input without rows has its columns in its footer only
  const bare = per.filter((s) => s.columns.length === 0);
  const footers = bare.length ? await readFooters(bare.map((s) => s.input), options) : [];
  bare.forEach((s, i) => (s.columns = columnsOf(footers[i].fields)));
  const total = empty('total');
  for (const s of per) {
    total.rows += s.rows;
    if (total.columns.length === 0) total.columns = s.columns;
    merge(total.labels, s.labels);
    merge(total.imageFormats, s.imageFormats);
    merge(total.imageSizes, s.imageSizes);
    total.sampledImages += s.sampledImages;
  }
  for (const s of [...per, total]) s.labels = sortByNumber(s.labels);
  return { inputs: per, total };
}

function empty(input: string): InspectSummary {
  return { input, rows: 0, columns: [], labels: {}, imageFormats: {}, imageSizes: {}, sampledImages: 0 };
}

function columnsOf(fields: Field[]): { name: string; type: string }[] {
  return fields.map((f) => ({ name: f.name, type: String(f.type) }));
}

function merge(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

function sortByNumber(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => Number(a) - Number(b)));
}

/** The summary as a few lines of text. */
export function formatInspect(result: { inputs: InspectSummary[]; total: InspectSummary }): string {
  const lines: string[] = [];
  const one = (s: InspectSummary) => {
    lines.push(`${s.input}: ${s.rows.toLocaleString('en-US')} rows`);
    lines.push(`  columns: ${s.columns.map((c) => `${c.name} (${c.type})`).join(', ')}`);
    lines.push(`  labels: ${Object.entries(s.labels).map(([k, v]) => `${k}:${v}`).join(' ')}`);
    lines.push(`  images (sample of ${s.sampledImages}): ${fmt(s.imageFormats)}; sizes ${fmt(s.imageSizes)}`);
  };
  result.inputs.forEach(one);
  if (result.inputs.length > 1) one(result.total);
  return lines.join('\n') + '\n';
}

function fmt(counts: Record<string, number>): string {
  return Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
}

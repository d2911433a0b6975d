import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readBatches } from '../src/io/read.js';
import { InputError } from '../src/errors.js';
import { SplitMetricsAccumulator, type SplitMetrics } from '../src/eval/split-metrics.js';
import { detectionMetrics, type DetectionMetrics } from '../src/eval/detection-metrics.js';
import type { Columns } from '../src/io/columns.js';

/** What `gssd evaluate` reports: the split against the ground truth, and detection. */
export interface Evaluation {
  cleansed: string;
  truth: string;
  rows: number;
  rejected: number;
  detection: DetectionMetrics;
  split: SplitMetrics;
}

interface RoutedRow {
  id: bigint;
  split: 'clean' | 'poisoned' | 'uncertain' | 'rejected';
  gssdLabel: number | null;
  label: number;
}

const SPLITS = ['clean', 'poisoned', 'uncertain', 'rejected'] as const;

/**
 * Scores a cleanse run against the ground truth `gssd poison` wrote (only evaluation reads
 * it). Streams: the truth rows and the four splits are all in input order, so one merge pass
 * over them joins each truth row to its routed row, in constant memory.
 *
 * @example
 *   const e = await evaluate('run', 'poisoned/truth', { id: 'id', label: 'label', image: 'image' });
 *   console.log(e.split.removalRecall, e.split.cleanLoss);
 */
export async function evaluate(cleansed: string, truth: string, columns: Columns): Promise<Evaluation> {
  const report = JSON.parse(await readFile(join(cleansed, 'report.json'), 'utf8').catch(() => {
    throw new InputError(`${cleansed}: no report.json; is it the --out of a finished gssd cleanse?`);
  })) as { flagged: { label: number }[] };
  const heads = await Promise.all(SPLITS.map(async (s) => rowCursor(await parquetFiles(join(cleansed, s)), s, columns)));
  const acc = new SplitMetricsAccumulator();
  let rows = 0;
  let rejected = 0;
  let target: number | null = null;
  for await (const batch of readBatches(await parquetFiles(truth), { columns: { id: 'id', label: 'source_label', image: 'image' }, requireImage: false })) {
    const ids = batch.getChild('id')!;
    const isPoisoned = batch.getChild('is_poisoned')!;
    const isCover = batch.getChild('is_cover')!;
    const source = batch.getChild('source_label')!;
    for (let i = 0; i < batch.numRows; i++, rows++) {
      const id = BigInt(ids.get(i));
      const row = await takeMatching(heads, id);
      if (!row) {
        throw new InputError(`${truth}: row ${rows} (id ${id}) is not the next row of any split in ${cleansed}: the cleansed output is not of this data, or not in its order`);
      }
      if (row.split === 'rejected') rejected++;
      const poisoned = Boolean(isPoisoned.get(i));
      if (poisoned && target === null) target = row.label;
      acc.add({
        split: row.split === 'rejected' ? 'uncertain' : row.split,
        gssdLabel: row.gssdLabel,
        isPoisoned: poisoned,
        isCover: Boolean(isCover.get(i)),
        sourceLabel: Number(source.get(i)),
        label: row.label,
      });
    }
  }
  for (const h of heads) {
    const left = await h.peek();
    if (left) throw new InputError(`${cleansed}/${left.split}: row with id ${left.id} has no truth row in ${truth}`);
  }
  return { cleansed, truth, rows, rejected, detection: detectionMetrics(report.flagged.map((f) => f.label), target), split: acc.result() };
}

async function parquetFiles(path: string): Promise<string[]> {
  const info = await stat(path).catch(() => null);
  if (!info) return [];
  if (info.isFile()) return [path];
  return (await readdir(path)).filter((n) => n.endsWith('.parquet')).sort().map((n) => join(path, n));
}

interface Cursor {
  peek(): Promise<RoutedRow | null>;
  next(): void;
}

function rowCursor(files: string[], split: RoutedRow['split'], columns: Columns): Cursor {
  const batches = files.length ? readBatches(files, { columns }) : null;
  let rows: RoutedRow[] = [];
  let at = 0;
  return {
    async peek() {
      while (at >= rows.length) {
        const r = batches ? await batches.next() : { done: true as const, value: undefined };
        if (r.done) return null;
        const b = r.value;
        const ids = b.getChild(columns.id)!;
        const labels = b.getChild(columns.label)!;
        const gl = b.getChild('gssd_label');
        if (!gl) throw new InputError(`${files[0]}: no gssd_label column; is it gssd cleanse output?`);
        rows = Array.from({ length: b.numRows }, (_, i) => ({
          id: BigInt(ids.get(i)),
          split,
          gssdLabel: gl.isValid(i) ? Number(gl.get(i)) : null,
          label: Number(labels.get(i)),
        }));
        at = 0;
      }
      return rows[at];
    },
    next() {
      at++;
    },
  };
}

async function takeMatching(heads: Cursor[], id: bigint): Promise<RoutedRow | null> {
  for (const h of heads) {
    const row = await h.peek();
    if (row && row.id === id) {
      h.next();
      return row;
    }
  }
  return null;
}

/** The evaluation as a few lines of text. */
export function formatEvaluation(e: Evaluation): string {
  const p = (x: number | null) => (x === null ? 'n/a' : `${(100 * x).toFixed(2)}%`);
  const s = e.split;
  return [
    `target class: ${e.detection.trueTarget ?? 'none'}; flagged: ${JSON.stringify(e.detection.flagged)}; target found: ${e.detection.targetFound}; wrongly flagged: ${JSON.stringify(e.detection.wronglyFlagged)}`,
    `rows ${e.rows} (poisoned ${s.poisonedRows}, clean ${s.cleanRows}, cover ${s.coverRows}, rejected ${e.rejected})`,
    `removal recall ${p(s.removalRecall)} (poison left in clean ${p(s.poisonLeftInClean)}); clean loss ${p(s.cleanLoss)}`,
    `'poisoned' split: precision ${p(s.poisonedPrecision)}, recall ${p(s.poisonedRecall)}; relabel accuracy ${p(s.relabelAccuracy)}`,
    '',
  ].join('\n');
}

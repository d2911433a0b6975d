import { ROW_COLUMN } from '../src/stages/input-schema.js';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readBatches } from '../src/io/read.js';
import { InputError } from '../src/errors.js';
import { SplitMetricsAccumulator, type SplitMetrics } from '../src/eval/split-metrics.js';
import { detectionMetrics, type DetectionMetrics } from '../src/eval/detection-metrics.js';
import { ScoreSeparationAccumulator, type ScoreSeparation } from '../src/eval/score-separation.js';
import type { Columns } from '../src/io/columns.js';

/** What `gssd evaluate` reports: the split against the ground truth, and detection. */
export interface Evaluation {
  cleansed: string;
  truth: string;
  rows: number;
  rejected: number;
  detection: DetectionMetrics;
  split: SplitMetrics;
  /** How well gssd_score separates the target class's own rows from its poison (GSSD runs with a target; else null). */
  separation: ScoreSeparation | null;
}

interface RoutedRow {
  id: bigint;
  split: 'clean' | 'poisoned' | 'uncertain' | 'rejected';
  gssdLabel: number | null;
  label: number;
  score: number | null;
}

/** A routed row joined to its truth row. */
interface JoinedRow {
  routed: RoutedRow;
  isPoisoned: boolean;
  isCover: boolean;
  sourceLabel: number;
}

const SPLITS = ['clean', 'poisoned', 'uncertain', 'rejected'] as const;

/**
 * Scores a cleanse run against the ground truth `gssd poison` wrote (only evaluation reads
 * it). Streams, in constant memory: one merge pass joins each truth row to its routed row
 * (`joinedRows`); for a GSSD run, a second pass measures how well gssd_score separates the
 * target class's own rows from its poison (`ScoreSeparation`).
 *
 * @example
 *   const e = await evaluate('run', 'poisoned/truth', { id: 'id', label: 'label', image: 'image' });
 *   console.log(e.split.removalRecall, e.split.cleanLoss);
 */
export async function evaluate(cleansed: string, truth: string, columns: Columns): Promise<Evaluation> {
  const report = JSON.parse(await readFile(join(cleansed, 'report.json'), 'utf8').catch(() => {
    throw new InputError(`${cleansed}: no report.json; is it the --out of a finished gssd cleanse?`);
  })) as { flagged: { label: number }[]; detector?: string };
  const acc = new SplitMetricsAccumulator();
  const ranges = new Map<number, { min: number; max: number }>();
  let rows = 0;
  let rejected = 0;
  let target: number | null = null;
  for await (const { routed, isPoisoned, isCover, sourceLabel } of joinedRows(cleansed, truth, columns)) {
    rows++;
    if (routed.split === 'rejected') rejected++;
    if (isPoisoned && target === null) target = routed.label;
    acc.add({ split: routed.split === 'rejected' ? 'uncertain' : routed.split, gssdLabel: routed.gssdLabel, isPoisoned, isCover, sourceLabel, label: routed.label });
    if (routed.score !== null && Number.isFinite(routed.score)) {
      const r = ranges.get(routed.label) ?? { min: routed.score, max: routed.score };
      ranges.set(routed.label, { min: Math.min(r.min, routed.score), max: Math.max(r.max, routed.score) });
    }
  }
  const range = target === null ? undefined : ranges.get(target);
  let separation: ScoreSeparation | null = null;
  if (target !== null && range && (report.detector ?? 'gssd') === 'gssd') {
    // a second pass, now that the target and its score range are known: fixed memory
    const sep = new ScoreSeparationAccumulator(target, range.min, range.max);
    for await (const { routed, isPoisoned, isCover } of joinedRows(cleansed, truth, columns)) {
      if (routed.label === target && routed.score !== null && Number.isFinite(routed.score) && !isCover) sep.add(routed.score, isPoisoned);
    }
    separation = sep.result();
  }
  return { cleansed, truth, rows, rejected, detection: detectionMetrics(report.flagged.map((f) => f.label), target), split: acc.result(), separation };
}

/**
 * The truth rows joined to their routed rows: the truth and the four splits are all in input
 * order, so one merge over them finds each truth row's routed row, in constant memory.
 */
async function* joinedRows(cleansed: string, truth: string, columns: Columns): AsyncGenerator<JoinedRow> {
  const heads = await Promise.all(SPLITS.map(async (s) => rowCursor(await parquetFiles(join(cleansed, s)), s, columns)));
  let rows = 0;
  for await (const batch of readBatches(await parquetFiles(truth), { columns: { id: 'id', label: 'source_label', image: 'image' }, requireImage: false })) {
    const ids = batch.getChild('id')!;
    const isPoisoned = batch.getChild('is_poisoned')!;
    const isCover = batch.getChild('is_cover')!;
    const source = batch.getChild('source_label')!;
    for (let i = 0; i < batch.numRows; i++, rows++) {
      const id = BigInt(ids.get(i));
      const routed = await takeMatching(heads, id);
      if (!routed) {
        throw new InputError(`${truth}: row ${rows} (id ${id}) is not the next row of any split in ${cleansed}: the cleansed output is not of this data, or not in its order`);
      }
      yield { routed, isPoisoned: Boolean(isPoisoned.get(i)), isCover: Boolean(isCover.get(i)), sourceLabel: Number(source.get(i)) };
    }
  }
  for (const h of heads) {
    const left = await h.peek();
    if (left) throw new InputError(`${cleansed}/${left.split}: row with id ${left.id} has no truth row in ${truth}`);
  }
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
        // outputs of inputs without an id carry the input row index in gssd_row
        const ids = b.getChild(ROW_COLUMN) ?? b.getChild(columns.id)!;
        const labels = b.getChild(columns.label)!;
        const gl = b.getChild('gssd_label');
        if (!gl) throw new InputError(`${files[0]}: no gssd_label column; is it gssd cleanse output?`);
        const sc = b.getChild('gssd_score');
        rows = Array.from({ length: b.numRows }, (_, i) => ({
          id: BigInt(ids.get(i)),
          split,
          gssdLabel: gl.isValid(i) ? Number(gl.get(i)) : null,
          label: Number(labels.get(i)),
          score: sc && sc.isValid(i) ? Number(sc.get(i)) : null,
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
    ...(e.separation
      ? [
          `gssd_score in class ${e.separation.label}: AUROC ${e.separation.auroc.toFixed(3)} (own rows above poisoned); the best cut that removes 99% of the poison keeps ${p(e.separation.ownKeptAt99Removal)} of the class's ${e.separation.ownRows} own rows, one that removes all of it ${p(e.separation.ownKeptAtFullRemoval)}`,
        ]
      : []),
    '',
  ].join('\n');
}

import { Field, Float32, Int32, Utf8, type RecordBatch } from 'apache-arrow';
import { buildData, withColumns } from '../io/arrow-data.js';
import { takeRows } from '../io/batch-ops.js';
import { inInputSchema, type InputShape } from './input-schema.js';

/** The four places a row can go. */
export type RouteSplit = 'clean' | 'poisoned' | 'uncertain' | 'rejected';

/** The per-row result of the cleanse: the columns the route stage adds. */
export interface RowVerdict {
  split: RouteSplit;
  /** s = L[label] - max over other classes; null when not scored. */
  score: number | null;
  /** Own-class per-dimension log-likelihood; null when not scored. */
  loglik: number | null;
  /** Generative prediction argmax_c L[c]; null when not scored. */
  pred: number | null;
  /** The label to train with (own label for clean rows, the relabel for ND-poisoned rows), else null. */
  label: number | null;
  reason: string;
}

/** Names and types of the added columns, in order. */
export const VERDICT_FIELDS = [
  new Field('gssd_split', new Utf8(), false),
  new Field('gssd_score', new Float32(), true),
  new Field('gssd_loglik', new Float32(), true),
  new Field('gssd_pred', new Int32(), true),
  new Field('gssd_label', new Int32(), true),
  new Field('gssd_reason', new Utf8(), true),
];

/**
 * A batch with the verdict columns `gssd_split`, `gssd_score`, `gssd_loglik`, `gssd_pred`,
 * `gssd_label`, `gssd_reason` added (one verdict per row).
 *
 * @example
 *   const out = withVerdicts(batch, verdicts);
 */
export function withVerdicts(batch: RecordBatch, verdicts: RowVerdict[]): RecordBatch {
  const n = verdicts.length;
  const col = <K extends keyof RowVerdict>(k: K) => verdicts.map((v) => v[k]);
  return withColumns(batch, VERDICT_FIELDS, [
    buildData(new Utf8(), col('split'), 0, n),
    buildData(new Float32(), col('score'), 0, n),
    buildData(new Float32(), col('loglik'), 0, n),
    buildData(new Int32(), col('pred'), 0, n),
    buildData(new Int32(), col('label'), 0, n),
    buildData(new Utf8(), col('reason'), 0, n),
  ]);
}

/**
 * Splits a batch that carries `gssd_split` into one batch per split (splits with no rows
 * are absent). Every row lands in exactly one.
 *
 * @example
 *   for (const [split, part] of splitBySplit(batch)) await sinks[split].write(part);
 */
export function splitBySplit(batch: RecordBatch): Map<RouteSplit, RecordBatch> {
  const splits = batch.getChild('gssd_split');
  if (!splits) throw new Error('splitBySplit needs the gssd_split column: add verdicts first');
  const rows = new Map<RouteSplit, number[]>();
  for (let i = 0; i < batch.numRows; i++) {
    const s = splits.get(i) as RouteSplit;
    let list = rows.get(s);
    if (!list) rows.set(s, (list = []));
    list.push(i);
  }
  const out = new Map<RouteSplit, RecordBatch>();
  for (const [s, idx] of rows) out.set(s, idx.length === batch.numRows ? batch : takeRows(batch, idx));
  return out;
}

/** Something that accepts the batches of one split. */
export interface BatchSink {
  write(batch: RecordBatch): Promise<void>;
}

/** Options of the route stage. */
export interface RouteOptions {
  /** Each batch's verdicts, one per row (may be async, e.g. reading a likelihood file alongside). */
  verdicts: (batch: RecordBatch) => RowVerdict[] | Promise<RowVerdict[]>;
  sinks: Record<RouteSplit, BatchSink>;
  /** The inputs' shape: with it, rows are written in the inputs' own schema (`inInputSchema`), as the cleanse writes them. */
  shape?: InputShape;
}

/**
 * The route stage: given a function that gives each batch its verdicts, writes every row to
 * the sink of its split and passes the annotated batches on (so it can sit in the middle of
 * a pipeline, or at its end with the output ignored). The cleanse's route pass is this stage.
 *
 * @example
 *   const sinks = { clean: await PartSink.open('out/clean'), ... };
 *   for await (const b of route(batches, { verdicts: (b) => myVerdicts(b), sinks })) {}
 */
export async function* route(source: AsyncIterable<RecordBatch>, { verdicts, sinks, shape }: RouteOptions): AsyncGenerator<RecordBatch> {
  for await (const batch of source) {
    const withColumns = withVerdicts(batch, await verdicts(batch));
    const annotated = shape ? inInputSchema(withColumns, shape) : withColumns;
    for (const [split, part] of splitBySplit(annotated)) await sinks[split].write(part);
    yield annotated;
  }
}

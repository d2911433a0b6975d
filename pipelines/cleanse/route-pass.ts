import { join } from 'node:path';
import type { RecordBatch, Schema } from 'apache-arrow';
import { readBatches } from '../../src/io/read.js';
import { PartSink } from '../../src/io/part-sink.js';
import { MatrixCursor } from '../../src/io/matrix-cursor.js';
import { readRejects, type RejectEntry } from '../../src/io/reject-log.js';
import { splitRow } from '../../src/detect/split-row.js';
import { splitBySplit, withVerdicts, type RowVerdict } from '../../src/stages/route.js';
import { Progress } from '../../src/progress.js';
import { VERSION } from '../../src/version.js';
import { cacheColumns } from './embed-pass.js';
import { baselineFlagged, baselineVerdict } from './baseline-pass.js';
import { trainableClasses, MIN_CLASS_ROWS } from './fit-pass.js';
import { likelihoodColumns } from './score-pass.js';
import { outputFingerprint } from './options.js';
import { SPLITS, type SinkName } from './state.js';
import type { RunContext } from './context.js';

/**
 * Pass 5: the input rows again, each with its verdict columns, into DIR/clean, DIR/poisoned,
 * DIR/uncertain and DIR/rejected (Parquet parts). All four sinks commit together every
 * `checkpointRows` input rows, then the state records the row and the part numbers, so a
 * resume rewrites only uncommitted parts and the output equals an uninterrupted run's.
 */
export async function routePass(ctx: RunContext): Promise<void> {
  const { options, state } = ctx;
  const K = state.numClasses!;
  const D = state.featureDim!;
  const baseline = state.baseline;
  // GSSD routes from the likelihood matrix (K values + label per row); a baseline from h (D + label)
  const cols = baseline ? cacheColumns(D) : likelihoodColumns(K);
  const labelAt = baseline ? D : K;
  const thresholds = state.thresholds;
  const trainable = trainableClasses(state.embed.labelCounts, K);
  const metadata = {
    gssd_version: VERSION,
    gssd_params: JSON.stringify(outputFingerprint(options)),
    gssd_flagged: JSON.stringify(baseline ? baselineFlagged(baseline) : (state.detection?.flagged ?? [])),
  };
  const sinks = {} as Record<SinkName, PartSink>;
  for (const split of SPLITS) {
    // PartSink.open deletes parts from startPart on: what an interrupted run wrote after its checkpoint
    sinks[split] = await PartSink.open(join(options.out, split), { partRows: options.partRows, metadata, startPart: state.route.parts[split] });
  }
  const cursor = new MatrixCursor(ctx.work(baseline ? 'embeddings.f32' : 'likelihood.f32'), cols, state.route.rowsDone);
  const rejects = rejectLookup(ctx.work('rejected.jsonl'), state.route.rowsDone);
  const progress = new Progress(ctx.log, 'route', state.totalRows);
  progress.skip(state.route.rowsDone);
  let row = state.route.rowsDone;
  let eligible = state.route.eligibleDone;
  let sinceCheckpoint = 0;
  let schema: Schema | null = null;
  const checkpoint = async () => {
    for (const split of SPLITS) {
      await sinks[split].commit();
      state.route.parts[split] = sinks[split].nextPart;
    }
    state.route.rowsDone = row;
    state.route.eligibleDone = eligible;
    await ctx.commit();
    sinceCheckpoint = 0;
  };
  try {
    for await (const batch of readBatches(options.inputs, { ...ctx.readOptions(), startRow: row })) {
      const L = await cursor.take(batch.numRows);
      const verdicts: RowVerdict[] = [];
      for (let i = 0; i < batch.numRows; i++, row++) {
        const o = i * cols;
        const label = L[o + labelAt];
        if (label < 0) {
          verdicts.push({ split: 'rejected', score: null, loglik: null, pred: null, label: null, reason: await rejects.reasonOf(row) });
        } else if (baseline) {
          verdicts.push(baselineVerdict(baseline, L.subarray(o, o + D), label, row));
        } else if (!trainable[label]) {
          verdicts.push({
            split: 'uncertain', score: null, loglik: null, pred: null, label: null,
            reason: `class ${label} has fewer than ${MIN_CLASS_ROWS} rows: no flow to score it`,
          });
        } else {
          const d = splitRow(label, L.subarray(o, o + K), eligible++, thresholds!);
          verdicts.push({ split: d.split, score: d.score, loglik: d.loglik, pred: d.pred, label: d.trainLabel, reason: d.reason });
        }
      }
      const annotated = withVerdicts(batch, verdicts);
      schema ??= annotated.schema;
      await writeSplits(annotated, sinks, state.route.counts);
      sinceCheckpoint += batch.numRows;
      progress.add(batch.numRows);
      if (sinceCheckpoint >= options.checkpointRows) await checkpoint();
    }
    await checkpoint();
    // a split with no rows still gets a (zero-row) part file carrying the schema
    schema ??= await outputSchema(ctx);
    for (const split of SPLITS) await sinks[split].commitEmptyIfNone(schema);
  } finally {
    await cursor.close();
  }
  progress.done({ ...state.route.counts });
}

async function writeSplits(batch: RecordBatch, sinks: Record<SinkName, PartSink>, counts: Record<SinkName, number>): Promise<void> {
  for (const [split, part] of splitBySplit(batch)) {
    await sinks[split].write(part);
    counts[split] += part.numRows;
  }
}

/** The schema of the output rows: the inputs' columns and the verdict columns. */
async function outputSchema(ctx: RunContext): Promise<Schema> {
  for await (const batch of readBatches(ctx.options.inputs, { ...ctx.readOptions(), batchRows: 1 })) {
    const verdict: RowVerdict = { split: 'clean', score: null, loglik: null, pred: null, label: null, reason: '' };
    return withVerdicts(batch, [verdict]).schema;
  }
  throw new Error('no input rows to take the output schema from');
}

/** The reasons of rejected rows, looked up in increasing row order. */
function rejectLookup(path: string, fromRow: number) {
  const entries = readRejects(path);
  let next: RejectEntry | null | undefined;
  return {
    async reasonOf(row: number): Promise<string> {
      while (next === undefined || (next !== null && next.row < row)) {
        const r = await entries.next();
        next = r.done ? null : r.value;
        if (next && next.row < fromRow) next = undefined;
      }
      return next && next.row === row ? next.reason : 'rejected';
    },
  };
}

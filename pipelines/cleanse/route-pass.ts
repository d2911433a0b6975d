import { join } from 'node:path';
import type { RecordBatch, Schema } from 'apache-arrow';
import { readBatches, readFooters } from '../../src/io/read.js';
import { resolveColumns } from '../../src/io/columns.js';
import { inInputSchema, type InputShape } from '../../src/stages/input-schema.js';
import { PartSink } from '../../src/io/part-sink.js';
import { MatrixCursor } from '../../src/io/matrix-cursor.js';
import { readRejects, type RejectEntry } from '../../src/io/reject-log.js';
import { route, withVerdicts, type BatchSink, type RowVerdict } from '../../src/stages/route.js';
import { Progress } from '../../src/progress.js';
import { VERSION } from '../../src/version.js';
import { KNN_COLUMNS } from '../../src/baselines/deep-knn.js';
import { baselineFlagged, baselineVerdict } from './baseline-pass.js';
import { embeddingColumns, isEligible, likelihoodColumns, trainableClasses } from '../../src/io/work-files.js';
import { likelihoodVerdict, rejectedVerdict } from './row-verdict.js';
import { outputFingerprint } from './options.js';
import { SPLITS, type ScoreView, type SinkName, type ViewRow } from './state.js';
import { imageBytesAt } from '../../src/io/columns.js';
import { decodeImage } from '../../src/stages/decode.js';
import { encodePng } from '../../src/io/png.js';
import { writeFileAtomic } from '../../src/io/atomic-file.js';
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
  // GSSD routes from the likelihood matrix (K values + label per row); a baseline from h (D + label),
  // Deep k-NN from its per-row results (agreement, plurality, label)
  const knn = baseline?.method === 'deep-knn';
  const cols = knn ? KNN_COLUMNS : baseline ? embeddingColumns(D) : likelihoodColumns(K);
  const labelAt = cols - 1;
  const matrixFile = knn ? ctx.files.knn : baseline ? ctx.files.embeddings : ctx.files.likelihood;
  const thresholds = state.thresholds;
  const trainable = trainableClasses(state.embed.labelCounts, K);
  const [footer] = await readFooters(options.inputs.slice(0, 1), ctx.readOptions());
  const shape: InputShape = { columns: resolveColumns(options.source.columns), hasId: footer.hasId, labelType: footer.labelType };
  // the inputs' key-value metadata (e.g. Hugging Face's `huggingface` features) travels with the rows
  const metadata = {
    ...footer.metadata,
    gssd_version: VERSION,
    gssd_params: JSON.stringify(outputFingerprint(options)),
    gssd_flagged: JSON.stringify(baseline ? baselineFlagged(baseline) : (state.detection?.flagged ?? [])),
  };
  const sinks = {} as Record<SinkName, PartSink>;
  for (const split of SPLITS) {
    // PartSink.open deletes parts from startPart on: what an interrupted run wrote after its checkpoint
    sinks[split] = await PartSink.open(join(options.out, split), { partRows: options.partRows, metadata, startPart: state.route.parts[split] });
  }
  // rows per label and split; a run resumed from a checkpoint that predates them goes without
  if (state.route.rowsDone === 0) {
    state.route.byClass = Array.from({ length: K }, () => SPLITS.map(() => 0));
    state.route.noLabel = { clean: 0, poisoned: 0, uncertain: 0, rejected: 0 };
  }
  const byClass = state.route.byClass;
  const noLabel = state.route.noLabel;
  const thumbs = new ThumbnailTaker(ctx, state.scoreViews ?? []);
  const labelColumn = options.source.columns.label;
  const cursor = new MatrixCursor(matrixFile, cols, state.route.rowsDone);
  const rejects = rejectLookup(ctx.files.rejected, state.route.rowsDone);
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
  // each batch's verdicts, from the matrix file row by row alongside the inputs
  const verdictsOf = async (batch: RecordBatch): Promise<RowVerdict[]> => {
    const L = await cursor.take(batch.numRows);
    const verdicts: RowVerdict[] = [];
    for (let i = 0; i < batch.numRows; i++, row++) {
      const o = i * cols;
      const label = L[o + labelAt];
      if (!baseline && isEligible(label, trainable) && thumbs.wants(eligible)) await thumbs.take(eligible, batch, i, row);
      if (label < 0) {
        verdicts.push(rejectedVerdict(await rejects.reasonOf(row)));
      } else if (baseline) {
        verdicts.push(baselineVerdict(baseline, L.subarray(o, o + labelAt), label, row));
      } else {
        verdicts.push(likelihoodVerdict(label, L.subarray(o, o + K), eligible, trainable, thresholds!));
        if (isEligible(label, trainable)) eligible++;
      }
    }
    if (byClass && noLabel) {
      const inputLabels = batch.getChild(labelColumn);
      for (let i = 0; i < verdicts.length; i++) {
        const known = L[i * cols + labelAt];
        const label = known >= 0 ? known : Number(inputLabels?.get(i) ?? NaN);
        const split = verdicts[i].split as SinkName;
        if (Number.isInteger(label) && label >= 0 && label < K) byClass[label][SPLITS.indexOf(split)] += 1;
        else noLabel[split] += 1;
      }
    }
    return verdicts;
  };
  try {
    const batches = readBatches(options.inputs, { ...ctx.readOptions(), startRow: row });
    for await (const annotated of route(batches, { verdicts: verdictsOf, sinks: countingSinks(sinks, state.route.counts), shape })) {
      schema ??= annotated.schema;
      sinceCheckpoint += annotated.numRows;
      progress.add(annotated.numRows);
      if (sinceCheckpoint >= options.checkpointRows) await checkpoint();
    }
    await checkpoint();
    // a split with no rows still gets a (zero-row) part file carrying the schema
    schema ??= await outputSchema(ctx, shape);
    for (const split of SPLITS) await sinks[split].commitEmptyIfNone(schema);
  } finally {
    await cursor.close();
  }
  progress.done({ ...state.route.counts });
}

/**
 * Thumbnails of the rows at both ends of each flagged class's score order (`state.scoreViews`,
 * chosen by the detect pass): when the route pass reaches such a row, its image is decoded to
 * at most 96 px, written as DIR/checkpoint/thumbs/<eligible>.png, and its row and id are noted
 * in the view (committed with the route's checkpoints, so a resume redoes exactly the rows after them).
 */
class ThumbnailTaker {
  private readonly wanted = new Map<number, ViewRow[]>();
  private readonly size: number;

  constructor(
    private readonly ctx: RunContext,
    views: ScoreView[],
  ) {
    for (const v of views) {
      for (const r of [...v.lowest, ...v.highest]) {
        const list = this.wanted.get(r.eligible) ?? [];
        list.push(r);
        this.wanted.set(r.eligible, list);
      }
    }
    this.size = Math.min(ctx.options.source.imageSize, 96);
  }

  wants(eligible: number): boolean {
    return this.wanted.has(eligible);
  }

  async take(eligible: number, batch: RecordBatch, i: number, row: number): Promise<void> {
    const { columns } = this.ctx.options.source;
    const idVector = batch.getChild(columns.id);
    const id = idVector ? String(idVector.get(i)) : String(row);
    let thumb: string | null = null;
    try {
      const bytes = imageBytesAt(batch, columns, i);
      if (bytes) {
        thumb = `${eligible}.png`;
        await writeFileAtomic(this.ctx.checkpoint(join('thumbs', thumb)), encodePng(decodeImage(bytes, this.size), this.size));
      }
    } catch {
      thumb = null;
    }
    for (const r of this.wanted.get(eligible)!) Object.assign(r, { row, id, thumb });
  }
}

/** The sinks, each counting the rows written to it into `counts`. */
export function countingSinks(sinks: Record<SinkName, PartSink>, counts: Record<SinkName, number>): Record<SinkName, BatchSink> {
  const out = {} as Record<SinkName, BatchSink>;
  for (const split of SPLITS) {
    out[split] = {
      async write(batch: RecordBatch): Promise<void> {
        await sinks[split].write(batch);
        counts[split] += batch.numRows;
      },
    };
  }
  return out;
}

/** The schema of the output rows: the inputs' columns and the verdict columns. */
async function outputSchema(ctx: RunContext, shape: InputShape): Promise<Schema> {
  for await (const batch of readBatches(ctx.options.inputs, { ...ctx.readOptions(), batchRows: 1 })) {
    const verdict: RowVerdict = { split: 'clean', score: null, loglik: null, pred: null, label: null, reason: '' };
    return inInputSchema(withVerdicts(batch, [verdict]), shape).schema;
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

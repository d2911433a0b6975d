import { mkdir } from 'node:fs/promises';
import type { RecordBatch } from 'apache-arrow';
import { readBatches } from '../../src/io/read.js';
import { countDuplicateIds, IdLog } from '../../src/io/duplicate-ids.js';
import { InputError } from '../../src/errors.js';
import { MatrixWriter } from '../../src/io/matrix-file.js';
import { RejectLog } from '../../src/io/reject-log.js';
import { decode } from '../../src/stages/decode.js';
import { embed, embeddingsOf, type ImageEncoder } from '../../src/stages/embed.js';
import { embeddingColumns, embeddingRows } from '../../src/io/work-files.js';
import { RunningStats } from '../../src/stages/standardize.js';
import { Progress } from '../../src/progress.js';
import type { RunContext } from './context.js';

/**
 * Pass 2 (docs/method.md, step 2): every row's h into the on-disk embedding cache
 * (DIR/work/embeddings.f32, one row per input row, in input order), rejected rows into
 * DIR/work/rejected.jsonl, and the running mean/std of h. Checkpoints every
 * `checkpointRows` rows; a resume truncates the cache to the last checkpoint and goes on.
 */
export async function embedPass(ctx: RunContext, encoder: ImageEncoder): Promise<void> {
  const { options, state } = ctx;
  const d = encoder.featureDim;
  const labelCol = options.source.columns.label;
  const files = ctx.files;
  await mkdir(files.dir, { recursive: true });
  const cache = await MatrixWriter.open(files.embeddings, embeddingColumns(d), { keepRows: state.embed.rowsDone });
  const rejects = await RejectLog.open(files.rejected, { keepBelowRow: state.embed.rowsDone });
  // every row's id, for the duplicate count at the end (null: resumed from a checkpoint without them)
  const ids = await IdLog.open(files.ids, { keepRows: state.embed.rowsDone }).catch(() => null);
  const stats = state.embed.stats ? RunningStats.fromJSON(state.embed.stats) : new RunningStats(d);
  const labelCounts = [...state.embed.labelCounts];
  let rowsDone = state.embed.rowsDone;
  let rejected = state.embed.rejected;
  let sinceCheckpoint = 0;
  const progress = new Progress(ctx.log, 'embed', state.totalRows);
  progress.skip(rowsDone);
  const checkpoint = async () => {
    await cache.flush();
    await rejects.flush();
    await ids?.flush();
    state.embed = { rowsDone, rejected, stats: stats.toJSON(), labelCounts: [...labelCounts] };
    await ctx.commit();
    sinceCheckpoint = 0;
  };
  const batches = embed(
    decode(readBatches(options.inputs, { ...ctx.readOptions(), startRow: rowsDone }), {
      columns: options.source.columns,
      imageSize: options.source.imageSize,
      maxImagePixels: options.source.maxImagePixels,
    }),
    { encoder },
  );
  try {
    for await (const batch of batches) {
      const n = batch.numRows;
      const { rows, rejects: bad } = cacheRows(batch, d, labelCol, stats, labelCounts);
      for (const { row, reason } of bad) rejects.add(rowsDone + row, reason);
      rejected += bad.length;
      await cache.append(rows);
      ids?.append(batch.getChild(options.source.columns.id)!.toArray() as BigInt64Array);
      rowsDone += n;
      sinceCheckpoint += n;
      progress.add(n);
      if (sinceCheckpoint >= options.checkpointRows) await checkpoint();
    }
    await checkpoint();
  } finally {
    await cache.close().catch(() => {});
    await rejects.close().catch(() => {});
    await ids?.close().catch(() => {});
  }
  progress.done({ rejected });
  state.duplicateIds = ids ? await countDuplicateIds(files.ids) : null;
  await ctx.commit();
  const dup = state.duplicateIds;
  if (dup && dup.rows > 0) {
    const what = `${dup.rows} rows repeat the id of an earlier row (${dup.ids} ids, e.g. ${dup.examples.join(', ')})`;
    if (options.onDuplicateId === 'error') {
      throw new InputError(`${options.inputs[0]}${options.inputs.length > 1 ? ' (and others)' : ''}: ${what}; ids must be unique (column "${options.source.columns.id}")`);
    }
    ctx.log.warn('duplicate ids', { rows: dup.rows, ids: dup.ids, examples: dup.examples.join(',') });
  }
}

/**
 * The embedding-cache rows of one batch from the embed stage (h, then the label; -1 for a
 * rejected row), adding the good rows to `stats` and `labelCounts`; returns the rows and the
 * rejected rows (index within the batch, reason). Shared by the embed pass and the per-shard
 * embed job.
 *
 * @example
 *   for await (const b of embed(decode(batches), { encoder })) await cache.append(cacheRows(b, 512, 'label', stats, counts).rows);
 */
export function cacheRows(
  batch: RecordBatch,
  featureDim: number,
  labelCol: string,
  stats: RunningStats,
  labelCounts: number[],
): { rows: Float32Array; rejects: { row: number; reason: string }[] } {
  const n = batch.numRows;
  const d = featureDim;
  const { features, valid, reasons } = embeddingsOf(batch, d);
  const labels = batch.getChild(labelCol)!;
  const labelOf = (i: number) => Number(labels.get(i));
  const good = new Float32Array(n * d);
  const rejects: { row: number; reason: string }[] = [];
  let nGood = 0;
  for (let i = 0; i < n; i++) {
    if (valid[i]) {
      const label = labelOf(i);
      good.set(features.subarray(i * d, (i + 1) * d), nGood * d);
      nGood++;
      while (labelCounts.length <= label) labelCounts.push(0);
      labelCounts[label]++;
    } else {
      rejects.push({ row: i, reason: reasons[i] ?? 'rejected' });
    }
  }
  stats.addRows(good, nGood);
  return { rows: embeddingRows(features, valid, labelOf, n, d), rejects };
}

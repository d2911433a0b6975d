import { join } from 'node:path';
import type { RecordBatch, Schema } from 'apache-arrow';
import { readBatches } from '../../src/io/read.js';
import { PartSink } from '../../src/io/part-sink.js';
import { MatrixCursor } from '../../src/io/matrix-cursor.js';
import { splitRow } from '../../src/detect/split-row.js';
import type { SplitThresholds } from '../../src/detect/split-thresholds.js';
import { splitBySplit, withVerdicts, type RowVerdict } from '../../src/stages/route.js';
import { readOptions, type SourceSettings } from '../../src/io/source-settings.js';
import { MIN_CLASS_ROWS } from '../cleanse/fit-pass.js';
import { likelihoodColumns } from '../cleanse/score-pass.js';
import { SPLITS, type SinkName } from '../cleanse/state.js';

/** Settings of one shard's route job. */
export interface RouteShardOptions {
  input: string;
  source: SourceSettings;
  /** The shard's likelihood file (L[i, 0..K) then the label per row). */
  likelihood: string;
  numClasses: number;
  trainable: boolean[];
  thresholds: SplitThresholds;
  /** Eligible rows (usable label, class with a flow) in the shards before this one: the global index of its first. */
  eligibleStart: number;
  /** Rejected rows of the shard (row within the shard) and why. */
  rejects: { row: number; reason: string }[];
  /** Directory that gets clean/, poisoned/, uncertain/, rejected/ parts. */
  dir: string;
  partRows: number;
  metadata: Record<string, string>;
}

/** Rows per split that a route job wrote. */
export interface RouteShardResult {
  counts: Record<SinkName, number>;
}

/**
 * Pass 5 for one shard, as `routePass` does it for the whole set: the shard's rows with their
 * verdict columns into `dir/{clean,poisoned,uncertain,rejected}` Parquet parts. A split the
 * shard has no row of gets one zero-row part carrying the schema.
 *
 * @example
 *   const r = await routeShard({ input: 'lake/part-7.parquet', likelihood: 'jobs/score-00007.f32', eligibleStart: 7012, ... });
 */
export async function routeShard(o: RouteShardOptions): Promise<RouteShardResult> {
  const K = o.numClasses;
  const cols = likelihoodColumns(K);
  const sinks = {} as Record<SinkName, PartSink>;
  for (const split of SPLITS) sinks[split] = await PartSink.open(join(o.dir, split), { partRows: o.partRows, metadata: o.metadata });
  const counts: Record<SinkName, number> = { clean: 0, poisoned: 0, uncertain: 0, rejected: 0 };
  const reasons = new Map(o.rejects.map((r) => [r.row, r.reason]));
  const cursor = new MatrixCursor(o.likelihood, cols, 0);
  let row = 0;
  let eligible = o.eligibleStart;
  let schema: Schema | null = null;
  try {
    for await (const batch of readBatches([o.input], readOptions(o.source))) {
      const L = await cursor.take(batch.numRows);
      const verdicts: RowVerdict[] = [];
      for (let i = 0; i < batch.numRows; i++, row++) {
        const at = i * cols;
        const label = L[at + K];
        if (label < 0) {
          verdicts.push({ split: 'rejected', score: null, loglik: null, pred: null, label: null, reason: reasons.get(row) ?? 'rejected' });
        } else if (!o.trainable[label]) {
          verdicts.push({
            split: 'uncertain', score: null, loglik: null, pred: null, label: null,
            reason: `class ${label} has fewer than ${MIN_CLASS_ROWS} rows: no flow to score it`,
          });
        } else {
          const d = splitRow(label, L.subarray(at, at + K), eligible++, o.thresholds);
          verdicts.push({ split: d.split, score: d.score, loglik: d.loglik, pred: d.pred, label: d.trainLabel, reason: d.reason });
        }
      }
      const annotated = withVerdicts(batch, verdicts);
      schema ??= annotated.schema;
      await writeSplits(annotated, sinks, counts);
    }
    for (const split of SPLITS) await sinks[split].commit();
    if (schema) for (const split of SPLITS) await sinks[split].commitEmptyIfNone(schema);
  } finally {
    await cursor.close();
  }
  return { counts };
}

async function writeSplits(batch: RecordBatch, sinks: Record<SinkName, PartSink>, counts: Record<SinkName, number>): Promise<void> {
  for (const [split, part] of splitBySplit(batch)) {
    await sinks[split].write(part);
    counts[split] += part.numRows;
  }
}

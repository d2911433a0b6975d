import { join } from 'node:path';
import type { RecordBatch, Schema } from 'apache-arrow';
import { readBatches } from '../../src/io/read.js';
import { PartSink } from '../../src/io/part-sink.js';
import { MatrixCursor } from '../../src/io/matrix-cursor.js';
import type { SplitThresholds } from '../../src/detect/split-thresholds.js';
import { route, type RowVerdict } from '../../src/stages/route.js';
import { readOptions, type SourceSettings } from '../../src/io/source-settings.js';
import { isEligible, likelihoodColumns } from '../../src/io/work-files.js';
import { countingSinks } from '../cleanse/route-pass.js';
import { likelihoodVerdict, rejectedVerdict } from '../cleanse/row-verdict.js';
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
  const verdictsOf = async (batch: RecordBatch): Promise<RowVerdict[]> => {
    const L = await cursor.take(batch.numRows);
    const verdicts: RowVerdict[] = [];
    for (let i = 0; i < batch.numRows; i++, row++) {
      const at = i * cols;
      const label = L[at + K];
      if (label < 0) {
        verdicts.push(rejectedVerdict(reasons.get(row) ?? 'rejected'));
      } else {
        verdicts.push(likelihoodVerdict(label, L.subarray(at, at + K), eligible, o.trainable, o.thresholds));
        if (isEligible(label, o.trainable)) eligible++;
      }
    }
    return verdicts;
  };
  try {
    for await (const annotated of route(readBatches([o.input], readOptions(o.source)), { verdicts: verdictsOf, sinks: countingSinks(sinks, counts) })) {
      schema ??= annotated.schema;
    }
    for (const split of SPLITS) await sinks[split].commit();
    if (schema) for (const split of SPLITS) await sinks[split].commitEmptyIfNone(schema);
  } finally {
    await cursor.close();
  }
  return { counts };
}

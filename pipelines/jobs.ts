/**
 * The passes of a cleanse as jobs for several machines (docs/architecture.md, "Beyond one machine"):
 * each is a pure function of (one shard or one class, frozen inputs) -> output file +
 * manifest, so that an engine (a Kubernetes Indexed Job, BullMQ on Redis, ...) can run them:
 *
 *   embedShard(shard k)            -> shard-k.f32 (h + label per row), shard-k.json (rows, labels, Welford stats)
 *   mergeShardStats(manifests)     -> the standardisation of the whole set
 *   fitClass(class c, all shards)  -> flow-c/ (the flow of class c; bit-identical to the single-machine fit)
 *   scoreShard(shard k, flows)     -> shard-k.loglik.f32 (L[i, c] + label per row)
 *
 * Detection and routing then run on one machine over the score shards, as `gssd cleanse` does.
 */
import { open } from 'node:fs/promises';
import { readBatches } from '../src/io/read.js';
import { writeFileAtomic } from '../src/io/atomic-file.js';
import { MatrixWriter, readMatrix } from '../src/io/matrix-file.js';
import { decode } from '../src/stages/decode.js';
import { RunningStats } from '../src/stages/standardize.js';
import { embed, type ImageEncoder } from '../src/stages/embed.js';
import { embeddingColumns, likelihoodColumns } from '../src/io/work-files.js';
import { FlowBank } from '../src/models/flow-bank.js';
import { saveClassFlow } from '../src/models/save.js';
import { readOptions, type SourceSettings } from '../src/io/source-settings.js';
import { cacheRows } from './cleanse/embed-pass.js';
import { flowEpoch } from './cleanse/flow-epoch.js';
import { scoreChunk } from './cleanse/score-pass.js';
import type { FlowScorer } from '../src/models/flow-scorer.js';

/** What an embed job produced for one shard. */
export interface EmbedShardManifest {
  input: string;
  cache: string;
  rows: number;
  featureDim: number;
  labelCounts: number[];
  /** Rows of this shard that could not be embedded (row index within the shard). */
  rejects: { row: number; reason: string }[];
  stats: ReturnType<RunningStats['toJSON']>;
}

/**
 * Embeds one input shard into `${out}.f32` (rows of h then the label, -1 for rejected rows,
 * the same layout as the cleanse cache) and writes `${out}.json` last, atomically: the job is
 * done when the manifest exists.
 *
 * @example
 *   const m = await embedShard('lake/part-7.parquet', encoder, source, 'jobs/shard-7');
 */
export async function embedShard(input: string, encoder: ImageEncoder, source: SourceSettings, out: string): Promise<EmbedShardManifest> {
  const d = encoder.featureDim;
  const cache = await MatrixWriter.open(`${out}.f32`, embeddingColumns(d));
  const stats = new RunningStats(d);
  const labelCounts: number[] = [];
  const rejects: { row: number; reason: string }[] = [];
  let rows = 0;
  try {
    const decoded = decode(readBatches([input], readOptions(source)), { columns: source.columns, imageSize: source.imageSize, maxImagePixels: source.maxImagePixels });
    for await (const batch of embed(decoded, { encoder })) {
      const r = cacheRows(batch, d, source.columns.label, stats, labelCounts);
      for (const bad of r.rejects) rejects.push({ row: rows + bad.row, reason: bad.reason });
      await cache.append(r.rows);
      rows += batch.numRows;
    }
  } finally {
    await cache.close();
  }
  const manifest: EmbedShardManifest = { input, cache: `${out}.f32`, rows, featureDim: d, labelCounts, rejects, stats: stats.toJSON() };
  await writeFileAtomic(`${out}.json`, JSON.stringify(manifest));
  return manifest;
}

/** The standardisation statistics and label counts of the whole set, from the shard manifests (in shard order). */
export function mergeShardStats(manifests: EmbedShardManifest[]): { stats: RunningStats; labelCounts: number[]; rows: number } {
  const stats = new RunningStats(manifests[0].featureDim);
  const labelCounts: number[] = [];
  let rows = 0;
  for (const m of manifests) {
    stats.merge(RunningStats.fromJSON(m.stats));
    m.labelCounts.forEach((n, c) => (labelCounts[c] = (labelCounts[c] ?? 0) + n));
    rows += m.rows;
  }
  return { stats, labelCounts: Array.from(labelCounts, (n) => n ?? 0), rows };
}

/** Settings of a per-class fit job (the cleanse options of the same names). */
export interface FitClassOptions {
  /**
   * The embedding cache of the whole set (the shard caches concatenated in shard order), or with
   * `fitRowsPerClass` the fit-sample file written from it (`FitSampleFile`).
   */
  cache: string;
  featureDim: number;
  /** The rows of `cache`. */
  rows: number;
  numClasses: number;
  label: number;
  stats: RunningStats;
  epochs: number;
  batch: number;
  lr: number;
  seed: number;
  out: string;
}

/**
 * Trains the flow of one class, `epochs` epochs, on the rows of that class in `cache` (the whole
 * cache, or the fit-sample file) in the same shuffled order as the single-machine fit over the
 * same file, and saves it to `out`: the same seed gives the same flow, bit for bit, as
 * `gssd cleanse` would have.
 *
 * @example
 *   await fitClass({ cache: 'all.f32', featureDim: 512, rows, numClasses: 10, label: 3, stats, epochs: 50, batch: 16, lr: 1e-3, seed: 0, out: 'jobs/flow-3' });
 */
export async function fitClass(o: FitClassOptions): Promise<void> {
  const bank = new FlowBank({ numClasses: o.numClasses, dim: o.featureDim, batchSize: o.batch, lr: o.lr, seed: o.seed });
  const accept = (label: number) => label === o.label;
  try {
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      await flowEpoch(bank, o.cache, o.featureDim, o.rows, o.stats, o.seed, epoch, accept);
    }
    await saveClassFlow(bank, o.label, o.out);
  } finally {
    bank.dispose();
  }
}

/**
 * The likelihood rows of one shard: `${out}.f32` holds L[i, 0..K) then the label per row
 * (NaN rows for rejected rows), as the cleanse's likelihood file; classes without a flow
 * (`trainable[c]` false) get the floor value.
 *
 * @example
 *   const scorer = await openFlowScorer(bank, 'auto');   // the runtime the cleanse used
 *   await scoreShard('jobs/shard-7.f32', 512, scorer, stats, trainable, 'jobs/shard-7.loglik');
 */
export async function scoreShard(cache: string, featureDim: number, scorer: Pick<FlowScorer, 'logProb' | 'numClasses'>, stats: RunningStats, trainable: boolean[], out: string): Promise<void> {
  const writer = await MatrixWriter.open(`${out}.f32`, likelihoodColumns(scorer.numClasses));
  const scoring = { scorer, stats, std: stats.std(), trainable };
  try {
    for await (const chunk of readMatrix(cache, embeddingColumns(featureDim), { chunkRows: 1024 })) {
      await writer.append(await scoreChunk(chunk, featureDim, scoring));
    }
  } finally {
    await writer.close();
  }
}

/** Concatenates files in order into `out` (e.g. the shard caches, for the per-class fit). */
export async function concatFiles(files: string[], out: string): Promise<void> {
  const target = await open(out, 'w');
  try {
    for (const f of files) {
      const src = await open(f, 'r');
      try {
        for await (const chunk of src.createReadStream({ autoClose: false })) await target.write(chunk as Buffer);
      } finally {
        await src.close();
      }
    }
    await target.sync();
  } finally {
    await target.close();
  }
}

import { link, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { partName } from '../../src/io/part-sink.js';
import { copyS3 } from '../../src/io/s3-copy.js';
import { listS3 } from '../../src/io/s3-list.js';
import type { S3ReadOptions } from '../../src/io/s3-stat.js';
import { parseS3Uri, s3Uri } from '../../src/io/s3-uri.js';
import { eligibleRowCount } from '../../src/io/work-files.js';
import { SPLITS, type CleanseState, type SinkName } from '../cleanse/state.js';
import { readCommitted, type JobFiles } from './job-files.js';
import { jobBase } from './run-spec.js';

/** Where the route jobs' parts become the output's: a shared directory, or the s3:// output. */
export interface PartTarget {
  /** Names of the parts of shard k's split (sorted). */
  list(k: number, split: SinkName): Promise<string[]>;
  /** Makes part `name` of shard k's split the output's part `target` of the split. */
  place(k: number, split: SinkName, name: string, target: string): Promise<void>;
}

/**
 * The route jobs' parts, into `<out>/<split>/part-NNNNN.parquet` in input order (`target`: hard
 * links in the run directory, or copies in the store, so a coordinator that dies half-way places
 * the same names again). A split without rows gets one zero-row part with the schema, as in a
 * local run.
 *
 * @example
 *   state.route = await collectParts(files, shards, trainable, state, linkedParts(run));
 */
export async function collectParts(files: JobFiles, shards: number[], trainable: boolean[], state: CleanseState, target: PartTarget): Promise<CleanseState['route']> {
  const counts: Record<SinkName, number> = { clean: 0, poisoned: 0, uncertain: 0, rejected: 0 };
  const perShard: Record<SinkName, number>[] = [];
  for (const k of shards) {
    const m = (await readCommitted<{ counts: Record<SinkName, number> }>(files, `${jobBase(files.root, 'route', k)}.json`))!;
    perShard.push(m.counts);
    for (const split of SPLITS) counts[split] += m.counts[split];
  }
  const parts = { clean: 0, poisoned: 0, uncertain: 0, rejected: 0 } as Record<SinkName, number>;
  for (const split of SPLITS) {
    let from = shards.filter((k) => perShard[k][split] > 0);
    if (from.length === 0) {
      for (const k of shards) {
        if ((await target.list(k, split)).length > 0) {
          from = [k];
          break;
        }
      }
    }
    let n = 0;
    for (const k of from) for (const f of await target.list(k, split)) await target.place(k, split, f, partName(n++));
    parts[split] = n;
  }
  const eligible = eligibleRowCount(state.embed.labelCounts, trainable);
  return { rowsDone: state.totalRows, eligibleDone: eligible, parts, counts };
}

/** A shared run directory: the parts hard-linked into DIR/<split>/. */
export function linkedParts(run: string): PartTarget {
  return {
    list: async (k, split) => (await readdir(join(jobBase(run, 'route', k), split)).catch(() => [] as string[])).filter((f) => f.endsWith('.parquet')).sort(),
    async place(k, split, name, target) {
      await mkdir(join(run, split), { recursive: true });
      await link(join(jobBase(run, 'route', k), split, name), join(run, split, target)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
    },
  };
}

/**
 * An s3:// output: the parts copied inside the store from the work area to
 * `<out>/<split>/part-NNNNN.parquet` (a copy appears only complete); one already there (a
 * resumed coordinator) is not copied again.
 */
export function s3Parts(files: JobFiles, out: string, policy: S3ReadOptions): PartTarget {
  const { bucket, key } = parseS3Uri(out);
  const prefix = key === '' || key.endsWith('/') ? key : `${key}/`;
  const present = new Map<string, Promise<Set<string>>>();
  return {
    list: async (k, split) => (await files.list(join(jobBase(files.root, 'route', k), split))).filter((f) => f.endsWith('.parquet')),
    async place(k, split, name, target) {
      const dir = `${prefix}${split}/`;
      if (!present.has(split)) present.set(split, listS3(s3Uri(bucket, dir), policy).then((all) => new Set(all.map((o) => o.key))));
      const dest = dir + target;
      if ((await present.get(split)!).has(dest)) return;
      await copyS3(files.uri(join(jobBase(files.root, 'route', k), split, name)), s3Uri(bucket, dest), policy);
    },
  };
}

import { createHash } from 'node:crypto';
import { readdir, readFile, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError, UsageError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import { deleteS3 } from '../../src/io/s3-delete.js';
import { listS3 } from '../../src/io/s3-list.js';
import type { S3ReadOptions } from '../../src/io/s3-stat.js';
import { putObject, uploadFileAtomic } from '../../src/io/s3-upload.js';
import { partName } from '../../src/io/part-sink.js';
import { parseS3Uri, s3Uri } from '../../src/io/s3-uri.js';
import { VERSION } from '../../src/version.js';
import type { CleanseReport } from './report.js';
import { SPLITS, type CleanseState } from './state.js';
import type { CleanseRequest } from './options.js';
import { WORK_AREA } from '../distributed/run-spec.js';

/** The objects of a cleanse output under its prefix; `--force` deletes only these. */
const OUTPUT_FILES = new Set(['report.json', 'report.html', 'manifest.json']);
const PART = /^part-\d{5,}\.parquet$/;

/**
 * A cleanse whose `--out` is `s3://bucket/prefix`: the run directory (checkpoint, work files,
 * parts not yet uploaded) stays local (`runDir`, default a directory under the OS temp dir named
 * after the URI), and each part of clean/poisoned/uncertain/rejected is uploaded once the run's
 * checkpoint has committed it (`uploadFileAtomic`: visible only complete), then deleted locally.
 * At the end report.json and report.html are put, and manifest.json (every output object and
 * its size) last: the output is complete when it exists; then the default run directory is
 * removed (a given `runDir` stays). A resume (same `runDir`) uploads what
 * the interrupted run committed but had not uploaded and skips what is there, so the keys and
 * bytes equal an uninterrupted run's.
 *
 * @example
 *   const report = await cleanseToS3({ inputs: ['s3://lake/cifar/'], out: 's3://lake/clean-run/', encoder: 'enc' }, log, cleanse);
 */
export async function cleanseToS3(
  request: CleanseRequest,
  log: Logger,
  runLocal: (request: CleanseRequest, log: Logger) => Promise<CleanseReport>,
): Promise<CleanseReport> {
  const out = request.out;
  const { bucket, key } = parseS3Uri(out);
  const prefix = key === '' || key.endsWith('/') ? key : `${key}/`;
  const policy: S3ReadOptions = { retries: request.source?.retries ?? 5, retryDelayMs: 200, timeoutMs: request.source?.timeoutMs ?? 30_000, signal: request.signal };
  const runDir = request.runDir ?? defaultRunDir(out);
  const existing = await listS3(s3Uri(bucket, prefix), policy);
  if (!request.resume) await clearTarget(out, prefix, existing, Boolean(request.force), policy);
  log.info('s3 output', { out, runDir });
  const publisher = new PartPublisher(runDir, bucket, prefix, request.resume ? existing.map((o) => o.key) : [], policy);
  // a new run to an empty (or cleared) prefix: what the default run directory holds is an older run's
  const force = request.force || (!request.resume && request.runDir === undefined);
  const report = await runLocal({ ...request, force, out: runDir, runDir: undefined, onCommit: (state) => publisher.publishCommitted(state) }, log);
  await publisher.finish(report);
  // the output is complete in the store: the default run directory has served (a given --run-dir stays, as a local run's does)
  if (request.runDir === undefined) await rm(runDir, { recursive: true, force: true });
  return report;
}

/**
 * The local run directory of an s3:// output when none is given: `<tmp>/gssd-runs/<hash of the URI>`,
 * the same for every run to that URI, so that `--resume` finds it.
 */
export function defaultRunDir(out: string): string {
  const normal = out.endsWith('/') ? out : `${out}/`;
  return join(tmpdir(), 'gssd-runs', createHash('sha256').update(normal).digest('hex').slice(0, 16));
}

/** A new run: the prefix must be empty, or (with --force) hold only a gssd output, which is deleted. */
async function clearTarget(out: string, prefix: string, existing: { key: string; uri: string }[], force: boolean, policy: S3ReadOptions): Promise<void> {
  if (existing.length === 0) return;
  const own = (key: string) => {
    const rel = key.slice(prefix.length);
    const [top, name, more] = rel.split('/');
    // the work areas of --engine bullmq runs (pipelines/distributed)
    if (top === WORK_AREA && name !== undefined) return true;
    return OUTPUT_FILES.has(rel) || ((SPLITS as readonly string[]).includes(top) && name !== undefined && more === undefined && (PART.test(name) || name === ''));
  };
  const foreign = existing.filter((o) => !own(o.key));
  if (foreign.length > 0) {
    throw new UsageError(`${out} holds objects that are not a gssd output (${foreign.slice(0, 3).map((o) => o.key.slice(prefix.length)).join(', ')}); choose an empty or new prefix`);
  }
  if (!force) throw new UsageError(`${out} is not empty; use --resume to continue the run there or --force to replace it`);
  // the manifest first: from then on the prefix no longer claims to hold a complete output
  const order = [...existing].sort((a, b) => Number(b.key.endsWith('manifest.json')) - Number(a.key.endsWith('manifest.json')));
  await deleteS3(order.map((o) => o.uri), policy);
}

/** Uploads the committed parts of the local run directory, each once, in order. */
class PartPublisher {
  private readonly present: Set<string>;

  constructor(
    private readonly runDir: string,
    private readonly bucket: string,
    private readonly prefix: string,
    existingKeys: string[],
    private readonly policy: S3ReadOptions,
  ) {
    this.present = new Set(existingKeys);
  }

  /** After a checkpoint commit: uploads parts `[0, state.route.parts[split])` that are not in the store yet. */
  async publishCommitted(state: CleanseState): Promise<void> {
    if (state.pass !== 'route' && state.pass !== 'done') return;
    for (const split of SPLITS) {
      for (let n = 0; n < state.route.parts[split]; n++) await this.publish(split, partName(n), true);
    }
  }

  /** At the end: every part left locally (the zero-row ones of empty splits too), the reports, then the manifest. */
  async finish(report: CleanseReport): Promise<void> {
    for (const split of SPLITS) {
      const names = (await readdir(join(this.runDir, split)).catch(() => [] as string[])).filter((n) => PART.test(n)).sort();
      for (const name of names) await this.publish(split, name, false);
    }
    for (const name of ['report.json', 'report.html']) {
      await putObject(this.uri(name), await readFile(join(this.runDir, name)), this.policy, name.endsWith('.json') ? 'application/json' : 'text/html');
    }
    const files = (await listS3(this.uri(''), this.policy))
      .filter((o) => o.key !== this.prefix + 'manifest.json' && !o.key.startsWith(`${this.prefix}${WORK_AREA}/`))
      .map((o) => ({ key: o.key.slice(this.prefix.length), bytes: o.size }));
    const manifest = { gssdVersion: VERSION, rows: report.rows, splits: report.splits, files };
    await putObject(this.uri('manifest.json'), JSON.stringify(manifest, null, 1) + '\n', this.policy, 'application/json');
  }

  private async publish(split: string, name: string, mustExist: boolean): Promise<void> {
    const key = `${this.prefix}${split}/${name}`;
    const local = join(this.runDir, split, name);
    if (this.present.has(key)) {
      await unlink(local).catch(() => {});
      return;
    }
    const info = await stat(local).catch(() => null);
    if (!info) {
      if (!mustExist) return;
      throw new InputError(`${this.uri(`${split}/${name}`)}: neither in the store nor in the run directory ${this.runDir}; start the run again with --force`);
    }
    await uploadFileAtomic(local, this.uri(`${split}/${name}`), this.policy);
    this.present.add(key);
    await unlink(local);
  }

  private uri(rel: string): string {
    return s3Uri(this.bucket, this.prefix + rel);
  }
}

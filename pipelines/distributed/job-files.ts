import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { writeFileAtomic } from '../../src/io/atomic-file.js';
import { filesUnder } from '../../src/io/files-under.js';
import { deleteS3 } from '../../src/io/s3-delete.js';
import { downloadS3 } from '../../src/io/s3-download.js';
import { listS3 } from '../../src/io/s3-list.js';
import { s3Stat, type S3ReadOptions } from '../../src/io/s3-stat.js';
import { putObject, uploadFileAtomic } from '../../src/io/s3-upload.js';
import { isS3Uri } from '../../src/io/s3-uri.js';

/**
 * Where the files of a distributed run's jobs are committed, and how a machine sees them. The
 * job functions work on local paths under `root`, laid out as a run directory (checkpoint/
 * distributed.json, work/jobs/..., work/embeddings.f32); this says how those paths reach the
 * other machines:
 *
 * - a shared directory (`dirJobFiles`): `root` is the run directory itself, every machine sees
 *   every file at once, and committing is what the job already did (a rename into place);
 * - an s3:// work area (`s3JobFiles`): `root` is a local staging directory, a file is
 *   downloaded into it the first time it is read (`fetch`), and committed by an upload that
 *   makes the object visible only complete (`publish`). Committed files never change (a job run
 *   twice writes the same bytes), so a staged copy stays valid; whether a job is done is asked
 *   of the store (`has`), never of the staging directory.
 *
 * @example
 *   const files = jobFiles('s3://lake/out/_work/r1a2b/', 'r1a2b');
 *   if (await files.fetch(join(files.root, 'work/jobs/merge.json'))) ...
 */
export interface JobFiles {
  /** The run's files on this machine. */
  readonly root: string;
  /** The run directory or the s3:// work area, for messages. */
  readonly where: string;
  /** Makes the committed file `path` (under root) present locally; false when it is not committed. */
  fetch(path: string): Promise<boolean>;
  /** As `fetch`, for a directory (every file below it) or a file; false when neither is committed. */
  fetchTree(path: string): Promise<boolean>;
  /** Whether the file `path` is committed (a job's manifest: the job is done). */
  has(path: string): Promise<boolean>;
  /** Commits the local file or directory `path` (its data before its manifest: call in that order). */
  publish(path: string): Promise<void>;
  /** The files committed directly under the directory `path`, by name. */
  list(path: string): Promise<string[]>;
  /** The store's URI (or path) of `path`. */
  uri(path: string): string;
  /** Deletes the committed files of an s3:// work area (a shared directory's go with the run's work dir); the staging directory stays. */
  removeCommitted(): Promise<void>;
}

/**
 * The job files of `run`: a shared run directory, or the s3:// URI of a run's work area, staged
 * on this machine under `<tmp>/gssd-stage/<run id>-<pid>`.
 *
 * @example
 *   const files = jobFiles(data.run, data.runId);
 */
export function jobFiles(run: string, runId: string, policy: S3ReadOptions = DEFAULT_POLICY): JobFiles {
  return isS3Uri(run) ? s3JobFiles(stagingDir(runId), run, policy) : dirJobFiles(run);
}

const DEFAULT_POLICY: S3ReadOptions = { retries: 5, retryDelayMs: 200, timeoutMs: 30_000 };

/** This process's staging directory of a run whose work area is in S3. */
export function stagingDir(runId: string, pid = process.pid): string {
  return join(tmpdir(), 'gssd-stage', `${runId}-${pid}`);
}

/** A shared run directory: what every job wrote is where every machine reads it. */
export function dirJobFiles(run: string): JobFiles {
  return {
    root: run,
    where: run,
    fetch: async (path) => existsSync(path),
    fetchTree: async (path) => existsSync(path),
    has: async (path) => existsSync(path),
    publish: async () => {},
    list: async (path) => (await readdir(path).catch(() => [] as string[])).sort(),
    uri: (path) => path,
    removeCommitted: async () => {},
  };
}

/**
 * A work area in S3 (`area`: `s3://bucket/prefix/`), staged under the local directory `root`.
 *
 * @example
 *   const files = s3JobFiles('/tmp/gssd-stage/r1a2b-77', 's3://lake/out/_work/r1a2b/', policy);
 */
export function s3JobFiles(root: string, area: string, policy: S3ReadOptions): JobFiles {
  const base = area.endsWith('/') ? area : `${area}/`;
  const rel = (path: string) => {
    const r = relative(root, path);
    if (r.startsWith('..') || r === '') throw new Error(`${path} is not under the staging directory ${root}`);
    return r.split(sep).join('/');
  };
  const uri = (path: string) => base + rel(path);
  const has = async (path: string) => {
    try {
      await s3Stat(uri(path), policy);
      return true;
    } catch (err) {
      if ((err as Error).message.endsWith(': no such object')) return false;
      throw err;
    }
  };
  const fetch = async (path: string) => existsSync(path) || downloadS3(uri(path), path, policy);
  const publishFile = async (path: string) => {
    // small manifests in one PUT, data as a multipart upload: both visible only complete
    if (path.endsWith('.json')) await putObject(uri(path), await readFile(path), policy, 'application/json');
    else await uploadFileAtomic(path, uri(path), policy);
  };
  return {
    root,
    where: base,
    fetch,
    async fetchTree(path) {
      const prefix = `${uri(path)}/`;
      const below = await listS3(prefix, policy);
      if (below.length === 0) return fetch(path);
      for (const o of below) {
        const local = join(path, ...o.uri.slice(prefix.length).split('/'));
        if (!existsSync(local)) await downloadS3(o.uri, local, policy);
      }
      return true;
    },
    has,
    async publish(path) {
      if (!(await stat(path)).isDirectory()) return publishFile(path);
      for (const file of await filesUnder(path)) await publishFile(file);
    },
    async list(path) {
      const prefix = `${uri(path)}/`;
      return (await listS3(prefix, policy)).map((o) => o.uri.slice(prefix.length)).filter((n) => n !== '' && !n.includes('/'));
    },
    uri,
    async removeCommitted() {
      await deleteS3((await listS3(base, policy)).map((o) => o.uri), policy);
    },
  };
}

/**
 * Reads a committed JSON file of the run (a job's manifest, the run's spec), staging it first;
 * null when it is not committed.
 *
 * @example
 *   const merge = await readCommitted<MergeManifest>(files, jobBase(files.root, 'merge') + '.json');
 */
export async function readCommitted<T>(files: JobFiles, path: string): Promise<T | null> {
  if (!(await files.fetch(path))) return null;
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

/**
 * A job's manifest if the job is done (its manifest committed), else null. Unlike
 * `readCommitted`, a staged copy alone does not count: a worker may have written the manifest
 * and died before committing it.
 */
export async function doneManifest<T>(files: JobFiles, path: string): Promise<T | null> {
  if (!(await files.has(path))) return null;
  return readCommitted<T>(files, path);
}

/** Writes a manifest locally and commits it: the last step of a job. */
export async function commitManifest(files: JobFiles, path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value));
  await files.publish(path);
}

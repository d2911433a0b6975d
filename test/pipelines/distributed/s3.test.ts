import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeSyntheticDataset } from '../../../pipelines/synthetic-data.js';
import { ResNet } from '../../../src/models/resnet.js';
import { saveResNet } from '../../../src/models/save.js';
import { initBackend } from '../../../src/models/backend.js';
import { CLI, cliBuilt, readOutput, runCli, tempDir, type OutRow } from '../fixture.js';
import { S3_TEST_ENV, TestS3 } from '../../io/s3-fixture.js';
import { redisInstalled, TestRedis } from './redis-fixture.js';

const skip = !cliBuilt() || !redisInstalled();

/**
 * `gssd cleanse --engine bullmq` with `--out s3://...` and s3:// inputs (s3rver on 127.0.0.1),
 * real `gssd worker` processes and a real redis-server: 200 rows in 2 shards, an untrained
 * width-4 encoder, 1 flow epoch. The workers run in their own directories with their own
 * TMPDIR and are never told where the coordinator's run directory is: everything they read and
 * write goes through the store. The output must hold the rows of `--engine local --out s3://`,
 * and the parts (names and bytes) of the same run on a shared directory; also through a dead
 * coordinator (resumed), a worker killed while it uploads and one killed in a fit job.
 */
describe.skipIf(skip)('gssd cleanse --engine bullmq --out s3://', () => {
  let root: string;
  let s3: TestS3;
  let redis: TestRedis;
  let encoder: string;
  let reference: { rows: OutRow[]; report: { splits: Record<string, number>; flagged: unknown } };
  /** The parts (names and bytes) of the shared-directory bullmq run. */
  let sharedParts: Map<string, Buffer>;
  const workers: ChildProcess[] = [];
  const logs = new Map<ChildProcess, string>();
  const exits = new Map<ChildProcess, Promise<NodeJS.Signals | null>>();
  const options = () => ['s3://lake/shards/', '--encoder', encoder, '--flow-epochs', '1', '--target-detection', 'paper', '--batch-rows', '50', '--part-rows', '40', '--seed', '3', '--log', 'json'];
  const gssd = (args: string[], env: Record<string, string> = {}) => runCli([...args, '--s3-endpoint', s3.endpoint], { env: { ...S3_TEST_ENV, ...env } });
  const bullmq = () => ['--engine', 'bullmq', '--redis', redis.url];

  /** A `gssd worker` in a directory of its own (cwd and TMPDIR), 2 s locks; `env` e.g. a crash point. */
  const startWorker = async (name: string, env: Record<string, string> = {}): Promise<ChildProcess> => {
    const home = join(root, 'workers', name);
    await mkdir(join(home, 'tmp'), { recursive: true });
    const args = [CLI, 'worker', '--redis', redis.url, '--s3-endpoint', s3.endpoint, '--lock-ms', '2000', '--log', 'json'];
    const child = spawn(process.execPath, args, { cwd: home, env: { ...process.env, ...S3_TEST_ENV, TMPDIR: join(home, 'tmp'), ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    logs.set(child, '');
    exits.set(child, new Promise((done) => child.once('exit', (_code, signal) => done(signal))));
    child.stderr!.on('data', (d) => logs.set(child, (logs.get(child)! + d).slice(-200_000)));
    workers.push(child);
    while (!logs.get(child)!.includes('"worker ready"')) {
      expect(child.exitCode, logs.get(child)).toBeNull();
      await sleep(50);
    }
    return child;
  };

  /** The objects under `s3://lake/<name>/`, by key below it, with their bytes. */
  const objects = async (name: string) => {
    const keys = (await s3.list('lake', `${name}/`)).map((o) => o.key);
    return new Map(await Promise.all(keys.map(async (k) => [k.slice(name.length + 1), await s3.get('lake', k)] as const)));
  };
  const partsOf = (files: Map<string, Buffer>) => new Map([...files].filter(([k]) => /^(clean|poisoned|uncertain|rejected)\/part-\d+\.parquet$/.test(k)));
  /** The rows of an output given as its files. */
  const rowsOf = async (files: Map<string, Buffer>, name: string) => {
    const dir = join(root, 'read', name);
    for (const [rel, bytes] of partsOf(files)) {
      await mkdir(dirname(join(dir, rel)), { recursive: true });
      await writeFile(join(dir, rel), bytes);
    }
    return readOutput(dir);
  };
  /** An s3 output is complete: manifest.json lists every other object with its size, and no work files are left. */
  const expectComplete = (files: Map<string, Buffer>) => {
    const manifest = JSON.parse(files.get('manifest.json')!.toString());
    expect(manifest.files.map((f: { key: string }) => f.key)).toEqual([...files.keys()].filter((k) => k !== 'manifest.json'));
    for (const f of manifest.files) expect(f.bytes).toBe(files.get(f.key)!.length);
    expect([...files.keys()].filter((k) => !/^(clean|poisoned|uncertain|rejected)\/part-\d+\.parquet$|^report\.(json|html)$|^manifest\.json$/.test(k))).toEqual([]);
  };

  beforeAll(async () => {
    root = await tempDir('distributed-s3');
    s3 = await TestS3.start(['lake']);
    redis = await TestRedis.start({ aof: false });
    const shards = join(root, 'shards');
    await writeSyntheticDataset(shards, { rows: 200, seed: 11, partRows: 100 });
    await s3.putDir(shards, 'lake', 'shards/');
    await initBackend('cpu');
    const net = new ResNet({ width: 4, imageSize: 32, seed: 1 });
    // the coordinator's own directory: the workers are never told of it
    encoder = join(root, 'private', 'enc');
    await saveResNet(net, encoder);
    net.dispose();
    const r = await gssd(['cleanse', ...options(), '--out', 's3://lake/local', '--json']);
    expect(r.code, r.stderr).toBe(0);
    reference = { rows: await rowsOf(await objects('local'), 'local'), report: JSON.parse(r.stdout) };
    expect(reference.rows).toHaveLength(200);
    expect(reference.report.splits.poisoned).toBeGreaterThan(0); // a flagged class: rows in every split but rejected
  }, 120_000);

  afterEach(async () => {
    for (const w of workers.splice(0)) {
      if (w.exitCode === null && w.signalCode === null) w.kill('SIGTERM');
      await exits.get(w);
    }
  });

  afterAll(async () => {
    await redis?.stop();
    await s3?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('2 workers write the rows of --engine local and the parts of a shared-directory run, through S3 only', async () => {
    const [a, b] = await Promise.all([startWorker('a'), startWorker('b')]);
    // the two runs at once, on the same workers (their jobs interleave in the queue)
    const shared = join(root, 'private', 'shared-out');
    const [d, r] = await Promise.all([
      gssd(['cleanse', ...options(), ...bullmq(), '--out', shared, '--json']),
      gssd(['cleanse', ...options(), ...bullmq(), '--out', 's3://lake/dist', '--run-dir', join(root, 'private', 'run-dist'), '--json']),
    ]);
    expect(d.code, d.stderr).toBe(0);
    expect(r.code, r.stderr).toBe(0);
    const names = (await readdir(shared, { recursive: true })).map(String).filter((n) => /part-\d+\.parquet$/.test(n)).sort();
    sharedParts = new Map(await Promise.all(names.map(async (n) => [n, await readFile(join(shared, n))] as const)));
    const report = JSON.parse(r.stdout);
    expect([report.splits, report.flagged]).toEqual([reference.report.splits, reference.report.flagged]);
    const files = await objects('dist');
    expectComplete(files);
    expect(await rowsOf(files, 'dist')).toEqual(reference.rows);
    const parts = partsOf(files);
    expect([...parts.keys()]).toEqual([...sharedParts.keys()]);
    for (const [k, bytes] of parts) expect(bytes.equals(sharedParts.get(k)!), k).toBe(true);
    // the workers ran the s3 run's jobs from their staging directories, which are gone once they stop
    const { runId } = JSON.parse(await readFile(join(root, 'private', 'run-dist', 'checkpoint', 'distributed.json'), 'utf8'));
    expect(logs.get(a)! + logs.get(b)!).toContain(`"id":"${runId}.route.`);
    for (const w of [a, b]) {
      w.kill('SIGTERM');
      await exits.get(w); // it finishes and exits by itself
    }
    for (const name of ['a', 'b']) expect(await readdir(join(root, 'workers', name, 'tmp', 'gssd-stage')).catch(() => [])).toEqual([]);
  }, 180_000);

  it('with --fit-rows-per-class, the fit jobs read the sample file the merge job uploaded: the rows of --engine local', async () => {
    await Promise.all([startWorker('sa'), startWorker('sb')]);
    const sampled = [...options(), '--fit-rows-per-class', '8', '--json'];
    const l = await gssd(['cleanse', ...sampled, '--out', 's3://lake/local-sampled']);
    expect(l.code, l.stderr).toBe(0);
    const r = await gssd(['cleanse', ...sampled, ...bullmq(), '--out', 's3://lake/dist-sampled', '--run-dir', join(root, 'private', 'run-sampled')]);
    expect(r.code, r.stderr).toBe(0);
    const [local, dist] = [JSON.parse(l.stdout), JSON.parse(r.stdout)];
    expect(dist.fitSample).toEqual(local.fitSample);
    expect(dist.fitSample.rowsFitted.reduce((a: number, b: number) => a + b, 0)).toBeLessThan(200 * 0.6);
    const files = await objects('dist-sampled');
    expectComplete(files);
    expect(await rowsOf(files, 'dist-sampled')).toEqual(await rowsOf(await objects('local-sampled'), 'local-sampled'));
  }, 180_000);

  it('a coordinator killed and resumed, a worker killed inside an upload and one in fit: no incomplete object, the same output', async () => {
    const out = 's3://lake/faults';
    const runDir = join(root, 'private', 'run-faults');
    const args = ['cleanse', ...options(), ...bullmq(), '--out', out, '--run-dir', runDir];
    // the coordinator dies with the embed pass submitted, before any worker runs
    const first = await gssd(args, { GSSD_CRASH_AT: 'coordinator-stage:1' });
    expect(first.signal, first.stderr).toBe('SIGKILL');
    // its directory (run directory and encoder) is gone while the workers embed and merge
    await rename(join(root, 'private'), join(root, 'away'));
    // a worker alone dies in its first upload (an embed job's cache), before the multipart upload completes: no object is there
    const a = await startWorker('fa', { GSSD_CRASH_AT: 's3-publish:1' });
    expect(await exits.get(a), logs.get(a)).toBe('SIGKILL');
    const shared = (await s3.list('lake', 'faults/_work/')).map((o) => o.key.replace(/^faults\/_work\/r[0-9a-f]+\//, ''));
    expect(shared).toEqual(['checkpoint/distributed.json', 'encoder/enc/manifest.json', 'encoder/enc/tensors.bin']);
    const [b] = await Promise.all([startWorker('fb', { GSSD_CRASH_AT: 'job-fit:1' }), startWorker('fc')]);
    let merged: string | undefined;
    while (!merged) {
      merged = (await s3.list('lake', 'faults/_work/')).map((o) => o.key).find((k) => k.endsWith('/work/jobs/merge.json'));
      if (!merged) await sleep(100);
    }
    // what the workers were told: the s3 output, not the coordinator's run directory
    const spec = (await s3.get('lake', merged.replace(/work\/jobs\/merge\.json$/, 'checkpoint/distributed.json'))).toString();
    expect(spec).toContain('"out": "s3://lake/faults"');
    expect(spec).not.toContain(runDir);
    await rename(join(root, 'away'), join(root, 'private'));
    const second = await gssd([...args, '--resume', '--json']);
    expect(second.code, second.stderr).toBe(0);
    expect(await exits.get(b), logs.get(b)).toBe('SIGKILL');
    expect(JSON.parse(second.stdout).splits).toEqual(reference.report.splits);
    const files = await objects('faults');
    expectComplete(files);
    const rows = await rowsOf(files, 'faults');
    expect(rows).toEqual(reference.rows);
    expect(new Set(rows.map((x) => x.id)).size).toBe(200);
    const parts = partsOf(files);
    expect([...parts.keys()]).toEqual([...sharedParts.keys()]);
    for (const [k, bytes] of parts) expect(bytes.equals(sharedParts.get(k)!), k).toBe(true);
    const status = await runCli(['status', '--redis', redis.url, out]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^run r[0-9a-f]+ \(s3:\/\/lake\/faults\/_work\/r[0-9a-f]+\/\)\n/);
    expect(status.stdout).toMatch(/embed\s+2 completed/);
    expect(status.stdout).toMatch(/route\s+2 completed/);
  }, 180_000);
});

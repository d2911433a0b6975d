import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeSyntheticDataset } from '../../../pipelines/synthetic-data.js';
import { PartSink } from '../../../src/io/part-sink.js';
import { readBatches } from '../../../src/io/read.js';
import { ResNet } from '../../../src/models/resnet.js';
import { saveResNet } from '../../../src/models/save.js';
import { initBackend } from '../../../src/models/backend.js';
import { CLI, cliBuilt, readOutput, runCli, tempDir, type OutRow } from '../fixture.js';
import { redisInstalled, TestRedis } from './redis-fixture.js';

const skip = !cliBuilt() || !redisInstalled();
if (!redisInstalled()) console.warn('redis-server is not installed (apt-get install redis-server): the distributed cleanse tests skip');

/**
 * `gssd cleanse --engine bullmq` with real `gssd worker` processes and a real redis-server on
 * 127.0.0.1: 800 BadNets-poisoned rows in 4 shards, an untrained width-4 encoder, 2 flow
 * epochs. The output rows must equal `--engine local`'s, also through dead workers, a dead
 * coordinator and a Redis restart.
 */
describe.skipIf(skip)('gssd cleanse --engine bullmq', () => {
  let root: string;
  let data: string;
  let encoder: string;
  let redis: TestRedis;
  let local: OutRow[];
  let localReport: { splits: Record<string, number>; flagged: unknown };
  const workers: ChildProcess[] = [];
  /** The end of each worker's stderr, for failure messages. */
  const logs = new Map<ChildProcess, string>();
  /** Each worker's exit: the signal that ended it (null: it exited itself). */
  const exits = new Map<ChildProcess, Promise<NodeJS.Signals | null>>();
  // paper detection with beta_ND raised to 1.4: on these 800 rows it flags classes by both tests (0 and 5 by ND, 2, 4 and 8 by D), so both split directions run on the workers
  const detection = ['--target-detection', 'paper', '--beta-nd', '1.4'];
  const options = () => [data, '--encoder', encoder, '--flow-epochs', '2', ...detection, '--batch-rows', '50', '--part-rows', '120', '--seed', '3', '--log', 'json'];

  /** A `gssd worker` process (3 s locks, so a dead one's job moves on quickly); `env` e.g. a crash point. */
  const startWorker = (env: Record<string, string> = {}): ChildProcess => {
    const child = spawn(process.execPath, [CLI, 'worker', '--redis', redis.url, '--lock-ms', '3000', '--log', 'json'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    logs.set(child, '');
    exits.set(child, new Promise((done) => child.once('exit', (_code, signal) => done(signal))));
    child.stderr!.on('data', (d) => logs.set(child, (logs.get(child)! + d).slice(-4000)));
    workers.push(child);
    return child;
  };

  /** Resolves once the worker listens on the queue. */
  const ready = async (w: ChildProcess) => {
    while (!logs.get(w)!.includes('"worker ready"')) {
      expect(w.exitCode, logs.get(w)).toBeNull();
      await sleep(50);
    }
  };

  const stopWorkers = async () => {
    for (const w of workers.splice(0)) {
      if (w.exitCode === null && w.signalCode === null) w.kill('SIGTERM');
      await exits.get(w);
    }
  };

  beforeAll(async () => {
    root = await tempDir('distributed');
    await writeSyntheticDataset(join(root, 'src'), { rows: 800, seed: 11 });
    const p = await runCli(['poison', join(root, 'src'), '--attack', 'badnets', '--out', join(root, 'poisoned'), '--seed', '2']);
    expect(p.code, p.stderr).toBe(0);
    // 4 shards of 200 rows
    data = join(root, 'shards');
    const sink = await PartSink.open(data, { partRows: 200 });
    for await (const b of readBatches([join(root, 'poisoned', 'data', 'part-00000.parquet')])) await sink.write(b);
    await sink.close();
    await initBackend('cpu');
    const net = new ResNet({ width: 4, imageSize: 32, seed: 1 });
    encoder = join(root, 'enc');
    await saveResNet(net, encoder);
    net.dispose();
    const r = await runCli(['cleanse', ...options(), '--out', join(root, 'local'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    localReport = JSON.parse(r.stdout);
    local = await readOutput(join(root, 'local'));
    redis = await TestRedis.start();
  }, 180_000);

  afterEach(stopWorkers);

  afterAll(async () => {
    await redis?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('3 workers and a coordinator give the rows of --engine local', async () => {
    expect(local).toHaveLength(800);
    expect(new Set((localReport.flagged as { test: string }[]).map((f) => f.test))).toEqual(new Set(['D', 'ND'])); // both split directions
    expect(localReport.splits.poisoned).toBeGreaterThan(0);
    for (let i = 0; i < 3; i++) startWorker();
    const out = join(root, 'dist');
    const r = await runCli(['cleanse', ...options(), '--engine', 'bullmq', '--redis', redis.url, '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.splits).toEqual(localReport.splits);
    expect(report.flagged).toEqual(localReport.flagged);
    expect(await readOutput(out)).toEqual(local);
    expect(existsSync(join(out, 'report.html'))).toBe(true);
    expect(existsSync(join(out, 'work'))).toBe(false);
    // progress from job events: every embed job was seen done
    const events = r.stderr.split('\n').filter((l) => l.includes('"embed job done"'));
    expect(events).toHaveLength(4);
  }, 180_000);

  it('finishes with the same rows through a worker killed in embed, one killed in fit, the coordinator killed, and Redis restarted in score', async () => {
    const out = join(root, 'faults');
    const pause = join(root, 'pause');
    await mkdir(pause);
    // A dies in its first embed job (after the data, before the manifest), B in its first fit job;
    // C pauses in its first score job, when it is the only worker left, while Redis restarts.
    // All three wait on the queue before the jobs come, so each takes one of the first jobs.
    const a = startWorker({ GSSD_CRASH_AT: 'job-embed:1' });
    const b = startWorker({ GSSD_CRASH_AT: 'job-fit:1' });
    const c = startWorker({ GSSD_JOB_PAUSE: `score:${pause}` });
    for (const w of [a, b, c]) await ready(w);
    const first = await runCli(['cleanse', ...options(), '--engine', 'bullmq', '--redis', redis.url, '--out', out], { env: { GSSD_CRASH_AT: 'coordinator-stage:2' } });
    expect(first.signal, first.stderr).toBe('SIGKILL'); // the coordinator died with the fit pass submitted
    expect(await exits.get(a), logs.get(a)).toBe('SIGKILL');
    expect(await exits.get(b), logs.get(b)).toBe('SIGKILL');
    const second = runCli(['cleanse', ...options(), '--engine', 'bullmq', '--redis', redis.url, '--out', out, '--resume', '--json']);
    while (!existsSync(join(pause, 'paused'))) await sleep(50);
    await redis.down();
    await redis.up();
    await writeFile(join(pause, 'go'), '');
    const c2 = await second;
    expect(c2.code, c2.stderr).toBe(0);
    expect(JSON.parse(c2.stdout).splits).toEqual(localReport.splits);
    const rows = await readOutput(out);
    expect(rows).toEqual(local);
    expect(new Set(rows.map((x) => x.id)).size).toBe(800);

    const status = await runCli(['status', '--redis', redis.url, out]);
    expect(status.code, status.stderr).toBe(0);
    const spec = JSON.parse(await readFile(join(out, 'checkpoint', 'distributed.json'), 'utf8'));
    expect(status.stdout).toContain(`run ${spec.runId}`);
    expect(status.stdout).toMatch(/embed\s+4 completed/);
    expect(status.stdout).toMatch(/route\s+4 completed/);
  }, 180_000);

  it('reports a job that keeps failing in one line, and gssd status shows its error', async () => {
    const broken = join(root, 'broken-encoder');
    await mkdir(broken);
    startWorker();
    const out = join(root, 'failing');
    const args = options();
    args[2] = broken;
    const r = await runCli(['cleanse', ...args, '--log', 'text', '--engine', 'bullmq', '--redis', redis.url, '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^gssd cleanse: job r[0-9a-f]+\.embed\.\d failed after 3 attempt\(s\): \S/);
    const status = await runCli(['status', '--redis', redis.url, out]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/embed .*failed/);
    expect(status.stdout).toMatch(/last error: r[0-9a-f]+\.embed\.\d after 3 attempt\(s\)/);
  }, 120_000);

  it('says in one line that Redis is unreachable; has help', async () => {
    const h = await runCli(['worker', '--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('Usage: gssd worker --redis URL');
    const url = 'redis://127.0.0.1:1';
    for (const args of [['status', '--redis', url], ['cleanse', ...options(), '--engine', 'bullmq', '--redis', url, '--out', join(root, 'nowhere')]]) {
      const r = await runCli(args);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain('cannot reach Redis at redis://127.0.0.1:1');
    }
  });
});

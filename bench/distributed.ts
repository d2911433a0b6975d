/**
 * The cost of the BullMQ engine (issue #13, "Measure"): the same CIFAR-10 cleanse with
 * `--engine local` and with `--engine bullmq` on 1 and 2 `gssd worker` processes, on this
 * machine. Per config: a fresh run directory, the same seed and options; for bullmq a fresh
 * redis-server (127.0.0.1, a free port, no persistence) and N workers started before the
 * coordinator and stopped after it. Recorded per config: the wall time of every pass
 * (report.json `costs`; the merge from its job's timestamps), the run's and the process's wall
 * time, the jobs (BullMQ's `timestamp` / `processedOn` / `finishedOn`: queue wait, run time, and
 * the dispatch gap, i.e. how long a ready job waited while a worker was free), the Redis commands
 * (`INFO` before and after the coordinator: in total, per job, by command) and Redis's CPU time,
 * and a digest of the output rows, which must be the same for every config.
 *
 *   npm run bench:distributed -- [--rows 50000] [--encoder FILE] [--configs local,bullmq-1,bullmq-2]
 *       [--flow-epochs 50] [--fit-rows-per-class N] [--work DIR] [--name distributed]
 *
 * `--rows 50000` (the default) cleanses the 5 CIFAR-10 train shards; fewer rows are the first N,
 * written once into `--work` (default $TMPDIR/gssd-distributed) as 5 parts, so every config
 * has 5 embed / score / route jobs. The default encoder is an untrained seeded ResNet-18 of width
 * 16 exported to ONNX (bench/lib/ladder-encoders.ts), made once in `--work`. Results:
 * bench/results/<name>.json and .md, written after every config (default name `distributed`;
 * `distributed-smoke` for a run with fewer rows or flow epochs, labelled a smoke run).
 * `--fit-rows-per-class N` passes the cleanse's lake-scale fit sample through (every config the
 * same); the fit pass then trains each flow on about N rows instead of its whole class.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, getPriority, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, type Job } from 'bullmq';
import { arg } from './lib/args.js';
import { writeSubset } from './lib/ladder-data.js';
import { writeUntrainedEncoder } from './lib/ladder-encoders.js';
import { outputDigest, type OutputDigest } from './lib/output-digest.js';
import { headCommit } from './lib/head-commit.js';
import { TestRedis } from '../test/pipelines/distributed/redis-fixture.js';

const CLI = resolve('dist/src/bin.js');
const CIFAR = resolve(process.env.GSSD_CIFAR10_DIR ?? '../shared/data/cifar10');
const SHARDS = [0, 1, 2, 3, 4].map((k) => join(CIFAR, `train-0000${k}-of-00005.parquet`));
const NAME = arg('name', Number(arg('rows', '50000')) < 50000 || Number(arg('flow-epochs', '50')) < 50 ? 'distributed-smoke' : 'distributed');
const WORK = resolve(arg('work', join(tmpdir(), 'gssd-distributed')));
const ROWS = Number(arg('rows', '50000'));
const FLOW_EPOCHS = Number(arg('flow-epochs', '50'));
const FIT_ROWS = arg('fit-rows-per-class', '');
const ENCODER_ARG = arg('encoder', '');
const CONFIGS = arg('configs', 'local,bullmq-1,bullmq-2').split(',');
const SEED = '0';
const WIDTH = 16;
const PASS_NAMES = ['embed', 'merge', 'fit', 'score', 'detect', 'route'] as const;

for (const c of CONFIGS) if (c !== 'local' && !/^bullmq-[1-9]\d*$/.test(c)) usage(`--configs takes local and bullmq-N, got ${c}`);
if (!Number.isInteger(ROWS) || ROWS < 100 || ROWS > 50000) usage(`--rows takes an integer from 100 to 50000, got ${arg('rows', '')}`);
if (!Number.isInteger(FLOW_EPOCHS) || FLOW_EPOCHS < 1) usage(`--flow-epochs takes an integer from 1 up, got ${arg('flow-epochs', '')}`);
if (FIT_ROWS !== '' && !(Number.isInteger(Number(FIT_ROWS)) && Number(FIT_ROWS) >= 1)) usage(`--fit-rows-per-class takes an integer from 1 up, got ${FIT_ROWS}`);
const FIT_ARGS = FIT_ROWS === '' ? [] : ['--fit-rows-per-class', FIT_ROWS];

function usage(message: string): never {
  console.error(`bench:distributed: ${message}`);
  process.exit(2);
}

/** Per job kind: count, queue wait (created -> started) and run time (started -> finished), ms. */
interface KindStats {
  jobs: number;
  waitMeanMs: number;
  waitMaxMs: number;
  runMeanMs: number;
  runMaxMs: number;
}

interface EngineStats {
  runId: string;
  workers: number;
  jobs: number;
  /** Attempts beyond the first (errors retried, stalled jobs taken over). */
  retries: number;
  byKind: Record<string, KindStats>;
  /** Every job: created -> started. For a fan-in parent, from its last child's end. */
  waitMeanMs: number;
  waitMaxMs: number;
  /** How long a job was ready while a worker was free before one took it (the engine's own latency). */
  dispatchMeanMs: number;
  dispatchMaxMs: number;
  /** Every job: started -> finished. */
  runMeanMs: number;
  runMaxMs: number;
  /** Per pass: first job started -> last job (the fan-in parent) finished, seconds; the pass's wall time minus it is the coordinator's share (submission, polling, reading manifests). */
  jobSpanSeconds: Record<string, number>;
  redisCommands: number;
  redisCommandsPerSecond: number;
  redisCommandsPerJob: number;
  /** The commands Redis counted most, during the run. */
  topCommands: Record<string, number>;
  redisCpuSeconds: number;
  /** Client round trips (MONITOR: commands sent by clients, not those scripts ran inside Redis), in total, per job, by whom and by command. */
  roundTrips: RoundTrips;
}

interface RoundTrips {
  total: number;
  perJob: number;
  /** From the connections open before the coordinator started (the workers'). */
  workers: number;
  /** From the connections opened after (the coordinator's). */
  coordinator: number;
  /** Commands Lua scripts (EVALSHA) ran inside Redis: no round trip each. */
  inScripts: number;
  topCommands: Record<string, number>;
}

/** `redis-cli MONITOR` into a file, from now until `stop`. */
async function monitor(port: number, file: string): Promise<{ stop: () => Promise<void> }> {
  const child = spawn('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'monitor'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const out = createWriteStream(file);
  let first = '';
  await new Promise<void>((ok) => {
    const on = (d: Buffer) => {
      first += d;
      if (first.includes('OK')) {
        child.stdout!.off('data', on);
        ok();
      }
    };
    child.stdout!.on('data', on);
  });
  child.stdout!.pipe(out);
  return {
    stop: async () => {
      child.kill('SIGTERM');
      await once(child, 'exit');
      if (!out.writableFinished) await once(out, 'finish');
    },
  };
}

/** The addresses of Redis's clients now (ip:port). */
function clientAddresses(port: number): Set<string> {
  const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'CLIENT', 'LIST'], { encoding: 'utf8' });
  return new Set([...r.stdout.matchAll(/\baddr=(\S+)/g)].map((m) => m[1]));
}

/** Counts a MONITOR log's commands: sent by clients (by connection: workers' or not) or run by scripts. */
async function countRoundTrips(file: string, workerAddrs: Set<string>, jobs: number): Promise<RoundTrips> {
  let workers = 0;
  let coordinator = 0;
  let inScripts = 0;
  const byCommand: Record<string, number> = {};
  for await (const line of createInterface({ input: createReadStream(file) })) {
    const m = /^[\d.]+ \[\d+ ([^\]]+)\] "([^"]+)"/.exec(line);
    if (!m) continue;
    const command = m[2].toLowerCase();
    if (m[1] === 'lua') {
      inScripts++;
      continue;
    }
    if (command === 'info' || command === 'client') continue; // the bench's own
    byCommand[command] = (byCommand[command] ?? 0) + 1;
    if (workerAddrs.has(m[1])) workers++;
    else coordinator++;
  }
  const total = workers + coordinator;
  const top = Object.entries(byCommand).sort((a, b) => b[1] - a[1]).slice(0, 8);
  return { total, perJob: Math.round((total / jobs) * 10) / 10, workers, coordinator, inScripts, topCommands: Object.fromEntries(top) };
}

interface ConfigResult {
  config: string;
  date: string;
  /** Seconds per pass: report.json costs (embed includes the merge with bullmq; merge: its job's run time). */
  passes: Partial<Record<(typeof PASS_NAMES)[number], number>>;
  /** report.json wallSeconds: the run, from the coordinator's start to the report. */
  runSeconds: number;
  /** The coordinator process, spawn to exit (Node start-up, encoder load and the report included). */
  processSeconds: number;
  speedupVsLocal: number | null;
  engine: EngineStats | null;
  output: OutputDigest;
  identicalToFirst: boolean;
  splits: Record<string, number>;
  loadBefore: number[];
  loadAfter: number[];
  /** Cores busy with other work just before the config started (3 s of /proc/stat, the bench idle); null where unreadable. */
  otherBusyCores: number | null;
}

const load = () => loadavg().map((x) => Math.round(x * 100) / 100);

/** The cores busy over the next 3 s by anything (the bench itself is idle when this is called). */
async function busyCores(): Promise<number | null> {
  const sample = async () => {
    const f = (await readFile('/proc/stat', 'utf8').catch(() => '')).split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return f.length >= 5 ? { idle: f[3] + f[4], total: f.reduce((a, b) => a + b, 0) } : null;
  };
  const a = await sample();
  await sleep(3000);
  const b = await sample();
  if (!a || !b || b.total === a.total) return null;
  return Math.round((1 - (b.idle - a.idle) / (b.total - a.total)) * cpus().length * 100) / 100;
}

/** A child process whose stderr goes to `log`; resolves its exit code or signal. */
function start(args: string[], log: string, cmd = process.execPath): { child: ChildProcess; exit: Promise<number | string> } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const file = createWriteStream(log);
  child.stderr!.pipe(file);
  const exit = new Promise<number | string>((done) => child.once('exit', (code, signal) => done(code ?? signal ?? -1)));
  return { child, exit };
}

async function waitForText(file: string, text: string, exit: Promise<number | string>, what: string): Promise<void> {
  let exited: number | string | null = null;
  void exit.then((e) => (exited = e));
  for (;;) {
    if (existsSync(file) && (await readFile(file, 'utf8')).includes(text)) return;
    if (exited !== null) throw new Error(`${what} exited (${exited}) before it was ready: ${(await readFile(file, 'utf8')).slice(-500)}`);
    await sleep(100);
  }
}

/** Redis's INFO sections `stats`, `commandstats` and `cpu` as numbers. */
function redisInfo(port: number): { total: number; commands: Record<string, number>; cpu: number } {
  const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'INFO', 'everything'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`redis-cli INFO failed: ${r.stderr}`);
  const commands: Record<string, number> = {};
  let total = 0;
  let cpu = 0;
  for (const line of r.stdout.split(/\r?\n/)) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (m) commands[m[1]] = Number(m[2]);
    const t = /^total_commands_processed:(\d+)/.exec(line);
    if (t) total = Number(t[1]);
    const c = /^used_cpu_(?:sys|user):([\d.]+)/.exec(line);
    if (c) cpu += Number(c[1]);
  }
  return { total, commands, cpu };
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : 0);
const max = (xs: number[]) => (xs.length ? Math.max(...xs) : 0);

/** Job statistics from the run's jobs in the queue (all of them: the Redis is this config's only). */
async function jobStats(url: string, port: number, workers: number): Promise<Omit<EngineStats, 'redisCommands' | 'redisCommandsPerJob' | 'redisCommandsPerSecond' | 'topCommands' | 'redisCpuSeconds' | 'roundTrips'>> {
  const queue = new Queue('gssd', { connection: { host: '127.0.0.1', port, maxRetriesPerRequest: null } });
  try {
    const jobs = (await queue.getJobs(['completed', 'failed'], 0, -1)) as Job[];
    if (!jobs.length) throw new Error(`no jobs in the queue at ${url}`);
    const runId = jobs[0].id!.split('.')[0];
    const kindOf = (j: Job) => j.id!.split('.')[1];
    const childrenOf: Record<string, string> = { merge: 'embed', fitted: 'fit', scored: 'score', routed: 'route' };
    /** When a job could start: created, or for a fan-in parent its last child's end. */
    const ready = new Map<string, number>();
    for (const j of jobs) {
      const child = childrenOf[kindOf(j)];
      const kids = child ? jobs.filter((k) => kindOf(k) === child) : [];
      ready.set(j.id!, kids.length ? Math.max(j.timestamp, ...kids.map((k) => k.finishedOn!)) : j.timestamp);
    }
    const wait = (j: Job) => j.processedOn! - ready.get(j.id!)!;
    const run = (j: Job) => j.finishedOn! - j.processedOn!;
    // dispatch gap: replay the jobs in start order on `workers` slots, each job on the slot
    // freed last before it started; the gap is the time the job was ready and that slot free
    const free: number[] = Array(workers).fill(-Infinity);
    const dispatch: number[] = [];
    for (const j of [...jobs].sort((a, b) => a.processedOn! - b.processedOn!)) {
      let slot = -1;
      for (let s = 0; s < free.length; s++) if (free[s] <= j.processedOn! && (slot < 0 || free[s] > free[slot])) slot = s;
      if (slot < 0) slot = free.indexOf(Math.min(...free)); // clock rounding: the earliest
      dispatch.push(Math.max(0, j.processedOn! - Math.max(ready.get(j.id!)!, free[slot])));
      free[slot] = j.finishedOn!;
    }
    const jobSpanSeconds: Record<string, number> = {};
    for (const [parent, child] of Object.entries(childrenOf)) {
      const of = jobs.filter((j) => kindOf(j) === child || kindOf(j) === parent);
      if (of.length) jobSpanSeconds[child] = (max(of.map((j) => j.finishedOn!)) - Math.min(...of.map((j) => j.processedOn!))) / 1000;
    }
    const byKind: Record<string, KindStats> = {};
    for (const kind of [...new Set(jobs.map(kindOf))]) {
      const of = jobs.filter((j) => kindOf(j) === kind);
      byKind[kind] = { jobs: of.length, waitMeanMs: mean(of.map(wait)), waitMaxMs: max(of.map(wait)), runMeanMs: mean(of.map(run)), runMaxMs: max(of.map(run)) };
    }
    return {
      runId,
      workers,
      jobs: jobs.length,
      retries: jobs.reduce((s, j) => s + Math.max(0, j.attemptsMade - 1) + (j.stalledCounter ?? 0), 0),
      byKind,
      waitMeanMs: mean(jobs.map(wait)),
      waitMaxMs: max(jobs.map(wait)),
      dispatchMeanMs: mean(dispatch),
      dispatchMaxMs: max(dispatch),
      runMeanMs: mean(jobs.map(run)),
      runMaxMs: max(jobs.map(run)),
      jobSpanSeconds,
    };
  } finally {
    await queue.close();
  }
}

/** The inputs: the 5 train shards, or the first ROWS rows of them as 5 parts (written once). */
async function inputs(): Promise<string[]> {
  if (ROWS === 50000) return SHARDS;
  const dir = join(WORK, `data-${ROWS}`);
  if (!existsSync(join(dir, '.done'))) {
    await rm(dir, { recursive: true, force: true });
    await writeSubset(SHARDS, ROWS, dir, Math.ceil(ROWS / 5));
    await writeFile(join(dir, '.done'), '');
  }
  return [dir];
}

async function encoder(): Promise<string> {
  if (ENCODER_ARG) return resolve(ENCODER_ARG);
  const file = join(WORK, `untrained-w${WIDTH}-s0.onnx`);
  if (!existsSync(file)) await writeUntrainedEncoder(file, WIDTH, 0);
  return file;
}

async function runConfig(config: string, data: string[], enc: string): Promise<Omit<ConfigResult, 'speedupVsLocal' | 'identicalToFirst'>> {
  const run = join(WORK, 'runs', config);
  const logs = join(WORK, 'logs');
  await mkdir(logs, { recursive: true });
  await rm(run, { recursive: true, force: true });
  const cleanse = ['cleanse', ...data, '--encoder', enc, '--out', run, '--seed', SEED, '--flow-epochs', String(FLOW_EPOCHS), ...FIT_ARGS, '--log', 'json', '--json'];
  const date = new Date().toISOString();
  const otherBusyCores = await busyCores();
  const loadBefore = load();
  let engine: EngineStats | null = null;
  let processSeconds: number;
  if (config === 'local') {
    const t0 = Date.now();
    const c = start([CLI, ...cleanse, '--engine', 'local'], join(logs, `${config}-coordinator.log`));
    const code = await c.exit;
    if (code !== 0) throw new Error(`${config}: gssd cleanse exited ${code} (${join(logs, `${config}-coordinator.log`)})`);
    processSeconds = (Date.now() - t0) / 1000;
  } else {
    const n = Number(config.split('-')[1]);
    const redis = await TestRedis.start({ aof: false });
    const workers: { child: ChildProcess; exit: Promise<number | string> }[] = [];
    try {
      for (let i = 0; i < n; i++) {
        const log = join(logs, `${config}-worker-${i}.log`);
        workers.push(start([CLI, 'worker', '--redis', redis.url, '--log', 'json'], log));
        await waitForText(log, '"worker ready"', workers[i].exit, `worker ${i}`);
      }
      const mon = await monitor(redis.port, join(logs, `${config}-monitor.log`));
      const workerAddrs = clientAddresses(redis.port);
      const before = redisInfo(redis.port);
      const t0 = Date.now();
      const c = start([CLI, ...cleanse, '--engine', 'bullmq', '--redis', redis.url], join(logs, `${config}-coordinator.log`));
      const code = await c.exit;
      processSeconds = (Date.now() - t0) / 1000;
      const after = redisInfo(redis.port);
      await mon.stop();
      if (code !== 0) throw new Error(`${config}: gssd cleanse exited ${code} (${join(logs, `${config}-coordinator.log`)})`);
      const jobs = await jobStats(redis.url, redis.port, n);
      const diff = Object.entries(after.commands)
        .map(([k, v]) => [k, v - (before.commands[k] ?? 0)] as [string, number])
        .filter(([k, v]) => v > 0 && k !== 'info')
        .sort((a, b) => b[1] - a[1]);
      const commands = after.total - before.total - 1; // the INFO of the "after" snapshot
      engine = {
        ...jobs,
        redisCommands: commands,
        redisCommandsPerJob: Math.round((commands / jobs.jobs) * 10) / 10,
        redisCommandsPerSecond: Math.round(commands / processSeconds),
        topCommands: Object.fromEntries(diff.slice(0, 8)),
        redisCpuSeconds: Math.round((after.cpu - before.cpu) * 100) / 100,
        roundTrips: await countRoundTrips(join(logs, `${config}-monitor.log`), workerAddrs, jobs.jobs),
      };
    } finally {
      for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
      await Promise.all(workers.map((w) => w.exit));
      await redis.stop();
    }
  }
  const report = JSON.parse(await readFile(join(run, 'report.json'), 'utf8'));
  const passes: ConfigResult['passes'] = {};
  for (const p of PASS_NAMES) if (report.costs[p]) passes[p] = report.costs[p].seconds;
  if (engine?.byKind.merge) passes.merge = Math.round(engine.byKind.merge.runMeanMs / 10) / 100;
  const output = await outputDigest(run);
  await rm(run, { recursive: true, force: true });
  const loadAfter = load();
  const r = { config, date, passes, runSeconds: report.wallSeconds, processSeconds, engine, output, splits: report.splits, loadBefore, loadAfter, otherBusyCores };
  console.log(`${config}: ${report.wallSeconds.toFixed(1)} s (${Object.entries(passes).map(([k, v]) => `${k} ${v}`).join(', ')}), output ${output.sha256.slice(0, 12)}${engine ? `, ${engine.jobs} jobs, ${engine.redisCommands} Redis commands` : ''}; load ${loadBefore.join(' ')} -> ${loadAfter.join(' ')}, other work before it ${otherBusyCores ?? '?'} cores`);
  return r;
}

const s = (x: number | undefined) => (x === undefined ? '' : x < 10 ? x.toFixed(2) : x.toFixed(1));
const ms = (x: number) => (x < 1000 ? `${Math.round(x)} ms` : `${(x / 1000).toFixed(1)} s`);

/** Loaded: other work kept more than half a core busy just before a config started (or, where that is unknown, a 1-minute load average above 1 at the bench's start). */
function loaded(r: { loadBefore: number[]; configs: ConfigResult[] }): boolean {
  const busy = r.configs.map((c) => c.otherBusyCores);
  return busy.some((b) => b === null || b === undefined) ? r.loadBefore[0] > 1 || busy.some((b) => (b ?? 0) > 0.5) : busy.some((b) => b! > 0.5);
}

function render(r: { smoke: boolean; complete: boolean; command: string; rows: number; flowEpochs: number; encoder: string; date: string; commit: string; machine: string; loadBefore: number[]; loadAfter: number[]; configs: ConfigResult[]; identical: boolean }): string {
  const lines = [
    `# ${r.smoke ? 'SMOKE RUN (not the measurement): ' : ''}CIFAR-10 cleanse, --engine local vs --engine bullmq`,
    '',
    ...(r.complete ? [] : [`**Incomplete: ${r.configs.length} of ${CONFIGS.length} configs (${CONFIGS.join(', ')}) measured so far.**`, '']),
    `${r.rows} rows (${r.rows === 50000 ? 'the 5 CIFAR-10 train shards' : 'the first rows of the train shards, as 5 parts'}), encoder ${r.encoder}, \`--flow-epochs ${r.flowEpochs}${FIT_ARGS.map((a) => ' ' + a).join('')} --seed ${SEED}\`, defaults otherwise.${FIT_ROWS ? ` Each class's flow trains on the same seeded hash sample of about ${FIT_ROWS} of its rows every epoch (\`--fit-rows-per-class\`); embed, score and route see every row.` : ''}`,
    `${r.date}, commit ${r.commit}, ${r.machine}. Command: \`${r.command}\`.`,
    ...(r.smoke ? [`A smoke run checks the bench, not the engine: at ${r.rows} rows and ${r.flowEpochs} flow epochs the fixed costs (process start-up, a worker thread and the encoder loaded per job) weigh far more than at the defaults. The measurement is \`npm run bench:distributed\` with its defaults (50,000 rows, 50 flow epochs).`] : []),
    `Load average (1, 5, 15 min) at the start ${r.loadBefore.join(', ')}, at the end ${r.loadAfter.join(', ')}${loaded(r) ? ': LOADED. Other processes (other benchmarks, builds, tests) ran at the same time, so the wall times are inflated and noisy; compare the configs with that in mind.' : ` (other work before each config: ${r.configs.map((c) => `${c.config} ${c.otherBusyCores ?? '?'}`).join(', ')} cores busy, from /proc/stat over 3 s; the load averages after that are mostly the bench's own processes).`}`,
    '',
    '## Wall time per pass (seconds)',
    '',
    '| config | embed | merge | fit | score | detect | route | run (report.json) | coordinator process | speedup vs local | output rows identical | load before / after |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const c of r.configs) {
    const p = c.passes;
    lines.push(
      `| ${c.config} | ${s(p.embed)} | ${p.merge === undefined ? '(in embed)' : s(p.merge)} | ${s(p.fit)} | ${s(p.score)} | ${s(p.detect)} | ${s(p.route)} | ${s(c.runSeconds)} | ${s(c.processSeconds)} | ${c.speedupVsLocal === null ? '' : c.speedupVsLocal.toFixed(2) + 'x'} | ${c.identicalToFirst ? 'yes' : 'NO'} | ${c.loadBefore[0]} / ${c.loadAfter[0]} |`,
    );
  }
  lines.push(
    '',
    'embed with bullmq is the embed jobs and the merge job (the merge column is that job\'s run time); passes from report.json `costs` (the coordinator\'s wall time per pass: submission, the jobs, the wait for the fan-in).',
    '',
    '## Engine overhead (bullmq)',
    '',
    '| config | jobs | retries | wait created -> started, mean / max | dispatch gap (ready job, free worker), mean / max | run, mean / max | coordinator share of embed / fit / score / route | Redis round trips: total (workers + coordinator) | per job | Redis commands run (incl. inside scripts) | per job | per second | Redis CPU |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const c of r.configs) {
    const e = c.engine;
    if (!e) continue;
    lines.push(
      `| ${c.config} | ${e.jobs} | ${e.retries} | ${ms(e.waitMeanMs)} / ${ms(e.waitMaxMs)} | ${ms(e.dispatchMeanMs)} / ${ms(e.dispatchMaxMs)} | ${ms(e.runMeanMs)} / ${ms(e.runMaxMs)} | ${['embed', 'fit', 'score', 'route'].map((p) => s((c.passes[p as 'embed'] ?? 0) - (e.jobSpanSeconds[p] ?? 0))).join(' / ')} s | ${e.roundTrips.total} (${e.roundTrips.workers} + ${e.roundTrips.coordinator}) | ${e.roundTrips.perJob} | ${e.redisCommands} | ${e.redisCommandsPerJob} | ${e.redisCommandsPerSecond} | ${e.redisCpuSeconds} s |`,
    );
  }
  lines.push('', 'Round trips by command; commands run by Redis (also inside scripts) by command:', '');
  for (const c of r.configs) {
    if (!c.engine) continue;
    const list = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ');
    lines.push(`- ${c.config}: round trips ${list(c.engine.roundTrips.topCommands)}; run ${list(c.engine.topCommands)}`);
  }
  lines.push('', 'Per job kind (bullmq): jobs, wait mean / max, run mean / max.', '');
  for (const c of r.configs) {
    if (!c.engine) continue;
    lines.push(`- ${c.config}: ${Object.entries(c.engine.byKind).map(([k, v]) => `${k} ${v.jobs} (wait ${ms(v.waitMeanMs)} / ${ms(v.waitMaxMs)}, run ${ms(v.runMeanMs)} / ${ms(v.runMaxMs)})`).join('; ')}`);
  }
  lines.push(
    '',
    'Wait: from the job\'s creation (for a fan-in parent, from its last child\'s end) to a worker starting it; it includes the time all workers were busy. Dispatch gap: the part of the wait when a worker was free (the jobs replayed in start order on the workers): BullMQ\'s own latency. Coordinator share: a pass\'s wall time minus the span of its jobs (first started to the fan-in parent finished): submitting the flow, the first pick-up, the coordinator\'s 200 ms polling of the parent, reading the manifests (and for route, linking the parts). Round trips: the commands clients sent, from \`redis-cli MONITOR\` during the coordinator\'s run (the workers\' connections are those open before the coordinator started; the bench\'s own INFO and CLIENT excluded). Redis commands run: \`total_commands_processed\` from \`INFO\` just before the coordinator started and just after it exited (workers already waiting on the queue, so their blocking polls count), over all jobs of the run; per second: of the coordinator process. Output rows: a sha256 of every output row\'s split, id, label, score and reason in output order',
    `(${r.configs.map((c) => `${c.config} ${c.output.sha256.slice(0, 16)}`).join(', ')}): ${r.identical ? 'identical for every config' : 'NOT identical'}; splits ${JSON.stringify(r.configs[0]?.splits)}.`,
    '',
  );
  return lines.join('\n');
}

function summary(configs: ConfigResult[], loadBefore: number[]) {
  const cpu = cpus();
  return {
    smoke: ROWS < 50000 || FLOW_EPOCHS < 50,
    /** False while configs are still to run (the file is written after each). */
    complete: configs.length === CONFIGS.length,
    command: `${getPriority() ? `nice -n ${getPriority()} ` : ''}npm run bench:distributed --${process.argv.slice(2).map((a) => ' ' + a).join('')}`,
    rows: ROWS,
    flowEpochs: FLOW_EPOCHS,
    encoder: ENCODER_ARG || `untrained ResNet-18 width ${WIDTH}, seed 0, ONNX (bench/lib/ladder-encoders.ts)`,
    date: new Date().toISOString(),
    commit: headCommit(),
    machine: `${cpu.length} x ${cpu[0]?.model ?? 'CPU'}, Node ${process.version}`,
    loadBefore,
    loadAfter: load(),
    configs,
    identical: configs.every((c) => c.output.sha256 === configs[0].output.sha256),
  };
}

async function main(): Promise<void> {
  if (!existsSync(SHARDS[0])) {
    console.log(`[skip] CIFAR-10 not found at ${CIFAR}`);
    return;
  }
  if (!existsSync(CLI)) usage('build first: npm run build');
  if (CONFIGS.some((c) => c !== 'local') && spawnSync('redis-server', ['--version']).status !== 0) usage('redis-server is not installed (apt-get install redis-server)');
  await mkdir(WORK, { recursive: true });
  const loadBefore = load();
  const data = await inputs();
  const enc = await encoder();
  const configs: ConfigResult[] = [];
  let result = summary(configs, loadBefore);
  for (const config of CONFIGS) {
    const r = await runConfig(config, data, enc);
    const local = configs.find((c) => c.config === 'local');
    configs.push({ ...r, speedupVsLocal: local ? Math.round((local.runSeconds / r.runSeconds) * 100) / 100 : r.config === 'local' ? 1 : null, identicalToFirst: configs.length === 0 || r.output.sha256 === configs[0].output.sha256 });
    // written after every config, so a run stopped half-way keeps what it measured
    result = summary(configs, loadBefore);
    await mkdir('bench/results', { recursive: true });
    await writeFile(`bench/results/${NAME}.json`, JSON.stringify(result, null, 1) + '\n');
    await writeFile(`bench/results/${NAME}.md`, render(result));
  }
  console.log(`outputs ${result.identical ? 'identical' : 'NOT identical'}; bench/results/${NAME}.json, .md`);
  if (!result.identical) process.exitCode = 1;
}

main().catch((err) => {
  console.error(`bench:distributed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});

/**
 * Soak test of kill-and-resume, outside `npm test`: `gssd cleanse` on 800 poisoned procedural
 * images (the setup of test/pipelines/cleanse.test.ts) is SIGKILLed after a random number of
 * milliseconds, resumed (killed again the same way up to `--kills-per-run` times), and its
 * output compared with an uninterrupted run's, row by row. The kill moments depend on the
 * machine's speed, which is why `npm test` uses fixed crash points (GSSD_CRASH_AT) instead;
 * this catches what fixed points miss. The delays are seeded; the landing points are not.
 *
 *   npm run soak:resume -- --runs 20 --min-ms 300 --max-ms 4000 --seed 1
 */
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSyntheticDataset } from '../pipelines/synthetic-data.js';
import { Rng } from '../src/rng.js';
import { CLI, cliBuilt, readOutput, runCli, tempDir, type CliResult, type OutRow } from '../test/pipelines/fixture.js';
import { arg } from './lib/args.js';

const runs = Number(arg('runs', '10'));
const killsPerRun = Number(arg('kills-per-run', '2'));
const minMs = Number(arg('min-ms', '300'));
const maxMs = Number(arg('max-ms', '3000'));
const rng = new Rng(`${arg('seed', '1')}:soak`);

async function main(): Promise<void> {
  if (!cliBuilt()) throw new Error('build first: npm run build');
  const root = await tempDir('soak');
  try {
    await writeSyntheticDataset(join(root, 'src'), { rows: 800, seed: 11 });
    await must(runCli(['poison', join(root, 'src'), '--attack', 'badnets', '--out', join(root, 'poisoned'), '--seed', '2']), 'poison');
    const data = join(root, 'poisoned', 'data');
    await must(runCli(['pretrain', data, '--out', join(root, 'enc'), '--epochs', '1', '--width', '4', '--batch', '64']), 'pretrain');
    const args = (out: string) => ['cleanse', data, '--encoder', join(root, 'enc', 'encoder'), '--flow-epochs', '4', '--checkpoint-rows', '100', '--part-rows', '150', '--batch-rows', '50', '--seed', '7', '--log', 'json', '--out', out];
    const started = Date.now();
    await must(runCli(args(join(root, 'plain'))), 'the uninterrupted cleanse');
    console.log(`uninterrupted cleanse: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const reference = await readOutput(join(root, 'plain'));
    let failures = 0;
    const passesHit: Record<string, number> = {};
    for (let k = 0; k < runs; k++) {
      const out = join(root, `run-${k}`);
      const landed: string[] = [];
      let last: CliResult | null = null;
      for (let attempt = 0; attempt <= killsPerRun + 2; attempt++) {
        const resume = attempt > 0 ? ['--resume'] : [];
        const ms = attempt < killsPerRun ? minMs + rng.int(maxMs - minMs) : undefined;
        last = await runKilledAfter([...args(out), ...resume], ms);
        if (last.code === 0) break;
        if (last.signal !== 'SIGKILL') break;
        const state = JSON.parse(await readFile(join(out, 'checkpoint', 'state.json'), 'utf8').catch(() => '{"pass":"none"}'));
        landed.push(`${ms} ms -> ${state.pass}`);
        passesHit[state.pass] = (passesHit[state.pass] ?? 0) + 1;
      }
      const problem = last?.code !== 0 ? `exit ${last?.code ?? last?.signal}: ${last?.stderr.trim().split('\n').at(-1)}` : differs(await readOutput(out), reference);
      if (problem) failures++;
      console.log(`run ${k + 1}/${runs}: killed ${landed.length}x [${landed.join(', ')}] ${problem ? `FAIL ${problem}` : 'same output'}`);
      await rm(out, { recursive: true, force: true });
    }
    console.log(`kills landed in: ${JSON.stringify(passesHit)}`);
    console.log(`${runs - failures}/${runs} runs gave the uninterrupted output`);
    if (failures) process.exitCode = 1;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** `gssd <args>` in a child process, SIGKILLed after `ms` milliseconds unless it ends first. */
function runKilledAfter(args: string[], ms: number | undefined): Promise<CliResult> {
  if (ms === undefined) return runCli(args);
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stdout, stderr });
    });
  });
}

/** The first difference between two outputs, or null (scores within 1e-6, as the test allows). */
function differs(rows: OutRow[], reference: OutRow[]): string | null {
  if (rows.length !== reference.length) return `${rows.length} rows, not ${reference.length}`;
  for (let i = 0; i < rows.length; i++) {
    const a = rows[i];
    const b = reference[i];
    if (a.split !== b.split || a.id !== b.id || a.label !== b.label || a.reason !== b.reason) return `row ${i} differs`;
    if ((a.score === null) !== (b.score === null) || Math.abs((a.score ?? 0) - (b.score ?? 0)) > 1e-6) return `row ${i} score differs`;
  }
  return null;
}

async function must(p: Promise<CliResult>, what: string): Promise<void> {
  const r = await p;
  if (r.code !== 0) throw new Error(`${what} failed (${r.code ?? r.signal}): ${r.stderr.trim().split('\n').at(-1)}`);
}

await main();

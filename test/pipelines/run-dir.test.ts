import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { spawn } from 'node:child_process';
import { copyFile, mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticDataset } from '../../pipelines/synthetic-data.js';
import { CLI, cliBuilt, readOutput, runCli, tempDir } from './fixture.js';

/**
 * The run directory of `gssd cleanse` against real processes and kills, on 200 procedural
 * images with an untrained width-2 encoder (--pretrain-epochs 0), so that each run takes a
 * few seconds: a second gssd on a live run is refused, a stale lock is taken over, a resume
 * whose input was replaced is refused, and a kill during the report write leaves nothing that
 * --force or --resume trips on.
 */
describe.skipIf(!cliBuilt())('gssd cleanse run directory (lock, input pins, leftovers)', () => {
  let root: string;
  let data: string;
  let input: string;
  const args = (out: string, ...more: string[]) => ['cleanse', data, '--pretrain-epochs', '0', '--width', '2', '--flow-epochs', '1', '--checkpoint-rows', '50', '--batch-rows', '50', '--part-rows', '40', '--out', out, ...more];

  beforeAll(async () => {
    root = await tempDir('rundir');
    data = join(root, 'data');
    await writeSyntheticDataset(data, { rows: 200, seed: 3 });
    input = join(data, 'part-00000.parquet');
  });

  it('locks the run, refuses a replaced input on resume, and cleans leftovers of a kill during the report write', async () => {
    const out = join(root, 'run');
    // A: a real cleanse, stopped (alive, holding the lock) at its first route commit
    const a = spawn(process.execPath, [CLI, ...args(out)], { env: { ...process.env, GSSD_STOP_AT: 'sink-commit:1' }, stdio: ['ignore', 'ignore', 'pipe'] });
    const aClosed = new Promise((r) => a.on('close', r));
    onTestFinished(() => void a.kill('SIGKILL')); // never leave a stopped process behind
    await new Promise<void>((resolve, reject) => {
      let err = '';
      a.stderr.on('data', (d) => {
        err += d;
        if (err.includes('gssd: stopped at sink-commit:1')) resolve();
      });
      a.on('close', () => reject(new Error(`the first run ended before its stop point: ${err}`)));
    });
    const lock = JSON.parse(await readFile(join(out, 'gssd.lock'), 'utf8'));
    expect(lock.pid).toBe(a.pid);
    // a second gssd on the live run: one line naming the holder, whether --resume or --force
    for (const flag of ['--resume', '--force']) {
      const b = await runCli(args(out, flag));
      expect(b.code, b.stderr).toBe(2);
      expectOneErrorLine(b.stderr, new RegExp(`^gssd cleanse: ${out} is in use by gssd cleanse \\(pid ${a.pid} on .*\\); wait for it to finish$`));
    }
    expect(await readdir(join(out, 'checkpoint'))).toContain('state.json');
    a.kill('SIGKILL');
    await aClosed;

    // the input replaced by another file of the same name and row count: the resume refuses it
    await rename(input, join(root, 'original.parquet'));
    await writeSyntheticDataset(join(root, 'other'), { rows: 200, seed: 4 });
    await copyFile(join(root, 'other', 'part-00000.parquet'), input);
    const c = await runCli(args(out, '--resume'));
    expect(c.code, c.stderr).toBe(2);
    expect(c.stderr).toMatch(new RegExp(`^warning: stale lock taken over dir=${out} holder=gssd cleanse \\(pid ${a.pid} `, 'm'));
    expectOneErrorLine(c.stderr, new RegExp(`^gssd cleanse: ${input}: changed since the run started \\(.*\\); a resume must read the inputs the run started with: restore it, or start again with --force$`));

    // the input restored; the checkpoint made older (no pins): it resumes with a warning,
    // and is killed while writing report.html
    await rename(join(root, 'original.parquet'), input);
    const state = JSON.parse(await readFile(join(out, 'checkpoint', 'state.json'), 'utf8'));
    expect(state.inputPins).toHaveLength(1);
    delete state.inputPins;
    await writeFile(join(out, 'checkpoint', 'state.json'), JSON.stringify(state));
    const d = await runCli(args(out, '--resume'), { env: { GSSD_CRASH_AT: 'atomic-write/report.html:1' } });
    expect(d.signal, d.stderr).toBe('SIGKILL');
    expect(d.stderr).toMatch(/^warning: inputs not pinned /m);
    expect(JSON.parse(await readFile(join(out, 'checkpoint', 'state.json'), 'utf8')).inputPins).toHaveLength(1);
    expect(leftovers(await readdir(out))).toEqual(['gssd.lock', `report.html.tmp-${await holderPid(out)}`]);

    // --force takes that directory (stale lock, report.html.tmp-PID) and starts again
    const e = await runCli(args(out, '--force', '--progress-every', '0'));
    expect(e.code, e.stderr).toBe(0);
    expect(e.stderr).toMatch(/^warning: stale lock taken over /m);
    // stderr is a pipe here: the estimated work up front, then progress lines with the whole run's ETA
    expect(e.stderr).toMatch(/^estimated work pretrain=0% embed=\d+% fit=\d+% score=\S+% route=\S+%$/m);
    expect(e.stderr).toMatch(/^embed: \d+\/200 rows [\d.]+% \d+ rows\/s ETA \S+ \(whole run ETA \S+\)$/m);
    expect(e.stderr).toMatch(/^route: 200\/200 rows 100\.0% /m);
    expect(leftovers(await readdir(out))).toEqual([]);
    const rows = await readOutput(out);
    expect(rows).toHaveLength(200);

    // killed again in the report write of a finished run; --resume cleans up and finishes
    const f = await runCli(args(out, '--resume'), { env: { GSSD_CRASH_AT: 'atomic-write/report.html:1' } });
    expect(f.signal, f.stderr).toBe('SIGKILL');
    expect(leftovers(await readdir(out))).toEqual(['gssd.lock', `report.html.tmp-${await holderPid(out)}`]);
    const g = await runCli(args(out, '--resume'));
    expect(g.code, g.stderr).toBe(0);
    expect(leftovers(await readdir(out))).toEqual([]);
    expect(await readdir(out)).toContain('report.html');
    expect(await readOutput(out)).toEqual(rows);
  }, 300_000);

  it('pretrain and train lock their run directory too', async () => {
    // this test process, alive on this host, holds the directory
    const out = join(root, 'held');
    await mkdir(out);
    await writeFile(join(out, 'gssd.lock'), JSON.stringify({ pid: process.pid, host: hostname(), command: 'cleanse', since: 'now' }));
    for (const command of [['pretrain', data, '--epochs', '1', '--width', '2'], ['train', data, '--epochs', '1', '--width', '2']]) {
      const r = await runCli([...command, '--out', out, '--resume']);
      expect(r.code, r.stderr).toBe(2);
      expectOneErrorLine(r.stderr, new RegExp(`^gssd ${command[0]}: ${out} is in use by gssd cleanse \\(pid ${process.pid} on ${hostname()}, since now\\); wait for it to finish$`));
    }
    expect(await readdir(out)).toEqual(['gssd.lock']);
  });
});

/** The lock and temp entries of a run directory listing. */
function leftovers(names: string[]): string[] {
  return names.filter((n) => n === 'gssd.lock' || n === 'tmp' || /\.(tmp|stale)-\d+$/.test(n)).sort();
}

/** The pid in the run's lock file (a killed run's lock stays behind). */
async function holderPid(out: string): Promise<number> {
  return JSON.parse(await readFile(join(out, 'gssd.lock'), 'utf8')).pid;
}

/** Exactly one `gssd <command>: ...` error line matching `pattern`, and no stack trace. */
function expectOneErrorLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split('\n');
  const errors = lines.filter((l) => /^gssd \w+: /.test(l));
  expect(errors, stderr).toHaveLength(1);
  expect(errors[0]).toMatch(pattern);
  expect(lines.filter((l) => /^\s+at /.test(l)), stderr).toEqual([]);
}

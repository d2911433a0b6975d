import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readBatches } from '../../src/io/read.js';

/** The built CLI (npm test builds it first). */
export const CLI = resolve('dist/src/bin.js');

export function cliBuilt(): boolean {
  return existsSync(CLI);
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `gssd <args>` in a child process. `env` is added to the environment, e.g.
 * GSSD_CRASH_AT to kill it at a fixed point (tests never kill by wall clock: the outcome would
 * depend on machine load; `bench/soak-kill-resume.ts` does, outside npm test).
 */
export function runCli(args: string[], { env = {} }: { env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code, signal) => {
      done({ code, signal, stdout, stderr });
    });
  });
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `gssd-${prefix}-`));
}

/** One output row, as the resume test compares them. */
export interface OutRow {
  split: string;
  id: bigint;
  label: number | null;
  score: number | null;
  reason: string;
}

/** Every row of a cleanse output directory, split by split, in file order. */
export async function readOutput(runDir: string): Promise<OutRow[]> {
  const rows: OutRow[] = [];
  for (const split of ['clean', 'poisoned', 'uncertain', 'rejected']) {
    const dir = join(runDir, split);
    if (!existsSync(dir)) continue;
    const files = (await readdir(dir)).filter((f) => f.endsWith('.parquet')).sort().map((f) => join(dir, f));
    if (!files.length) continue;
    for await (const b of readBatches(files)) {
      const ids = b.getChild('id')!;
      const label = b.getChild('gssd_label')!;
      const score = b.getChild('gssd_score')!;
      const reason = b.getChild('gssd_reason')!;
      const s = b.getChild('gssd_split')!;
      for (let i = 0; i < b.numRows; i++) {
        rows.push({ split: s.get(i), id: ids.get(i), label: label.get(i), score: score.get(i), reason: reason.get(i) });
      }
    }
  }
  return rows;
}

import { describe, expect, it, vi } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LOW_MEMORY_ENV, needsLowMemoryEnv } from '../src/low-memory-env.js';

const BUILT = resolve('dist/src/low-memory-env.js');
if (!existsSync(BUILT)) console.log('[skip] dist/ is not built: the re-run tests are skipped (npm test builds it)');

/**
 * A script that re-runs itself with LOW_MEMORY_ENV; the child prints its pid, parent pid and
 * malloc environment as one JSON line, then does what argv[2] says: `exit N`, `kill` (SIGKILL
 * itself) or `wait` (until killed).
 */
const SCRIPT = `import { LOW_MEMORY_ENV, needsLowMemoryEnv, rerunWithEnv, followParent } from ${JSON.stringify(BUILT)};
if (needsLowMemoryEnv()) process.exitCode = await rerunWithEnv(LOW_MEMORY_ENV);
else {
  followParent();
  const env = Object.fromEntries(Object.keys(LOW_MEMORY_ENV).map((k) => [k, process.env[k]]));
  console.log(JSON.stringify({ pid: process.pid, ppid: process.ppid, env }));
  const [what, n] = process.argv.slice(2);
  if (what === 'exit') process.exitCode = Number(n);
  if (what === 'kill') process.kill(process.pid, 'SIGKILL');
  if (what === 'wait') setInterval(() => {}, 1000);
}
`;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: { pid: number; ppid: number; env: Record<string, string> }[];
}

/** Runs the script; `onLine` sees the child's line (and the parent process) as it comes. */
async function runScript(args: string[], onLine?: (parent: ReturnType<typeof spawn>) => void): Promise<Run> {
  const dir = await mkdtemp(join(tmpdir(), 'gssd-rerun-'));
  const file = join(dir, 'rerun.mjs');
  await writeFile(file, SCRIPT);
  const env = { ...process.env };
  for (const k of Object.keys(LOW_MEMORY_ENV)) delete env[k];
  const parent = spawn(process.execPath, [file, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  parent.stdout!.on('data', (d) => {
    const first = !out.includes('\n');
    out += d;
    if (first && out.includes('\n')) onLine?.(parent);
  });
  // 'close': the stdout pipe is closed by every process holding it, the child included
  return new Promise((done) => {
    parent.on('close', (code, signal) => done({ code, signal, lines: out.trim() ? out.trim().split('\n').map((l) => JSON.parse(l)) : [] }));
  });
}

/** Whether a process has ended (gone, or a zombie nobody reaped yet). */
function ended(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].startsWith('Z');
  } catch {
    return true;
  }
}

/**
 * Waits for the child to end: its stdout closes at its exit, a moment before the kernel marks
 * it ended (a generous bound for a loaded machine, not a timing assertion).
 */
async function childEnds(pid: number): Promise<void> {
  await vi.waitFor(() => expect(ended(pid), 'the child has ended').toBe(true), { timeout: 30_000, interval: 50 });
}

describe('low-memory environment', () => {
  it('is needed on Linux unless a malloc setting of it is already set', () => {
    expect(needsLowMemoryEnv({}, 'linux')).toBe(true);
    expect(needsLowMemoryEnv({ MALLOC_ARENA_MAX: '4' }, 'linux')).toBe(false);
    expect(needsLowMemoryEnv({ GLIBC_TUNABLES: 'glibc.malloc.tcache_count=0' }, 'linux')).toBe(false);
    expect(needsLowMemoryEnv({ ...LOW_MEMORY_ENV }, 'linux')).toBe(false);
    expect(needsLowMemoryEnv({}, 'darwin')).toBe(false);
  });

  describe.skipIf(!existsSync(BUILT) || process.platform !== 'linux')('re-run in a child process', () => {
    it('runs the child with the settings and returns its exit code', async () => {
      const r = await runScript(['exit', '3']);
      expect(r.code).toBe(3);
      expect(r.lines).toHaveLength(1);
      expect(r.lines[0].env).toEqual(LOW_MEMORY_ENV);
    });

    it('dies of the signal that killed the child', async () => {
      const r = await runScript(['kill']);
      expect(r.signal).toBe('SIGKILL');
      expect(r.lines[0].env).toEqual(LOW_MEMORY_ENV);
    });

    it('takes the child down with it when killed with SIGKILL, and passes SIGTERM on', async () => {
      const killed = await runScript(['wait'], (parent) => parent.kill('SIGKILL'));
      expect(killed.signal).toBe('SIGKILL');
      await childEnds(killed.lines[0].pid);
      const stopped = await runScript(['wait'], (parent) => parent.kill('SIGTERM'));
      expect(stopped.signal).toBe('SIGTERM');
      await childEnds(stopped.lines[0].pid);
    });
  });
});

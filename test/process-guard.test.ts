import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const GUARD = resolve('dist/src/process-guard.js');
if (!existsSync(GUARD)) console.log('[skip] dist/ is not built: the process guard test is skipped (npm test builds it)');

/** Runs `body` in a fresh Node process with the guard installed; its exit code and stderr. */
function runGuarded(body: string, env: Record<string, string> = {}) {
  const script = `import { installProcessGuard } from ${JSON.stringify(GUARD)}; installProcessGuard(); ${body}`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, GSSD_DEBUG: '', ...env } });
  return { code: r.status, stderr: r.stderr };
}

describe.skipIf(!existsSync(GUARD))('process guard', () => {
  it('an exception thrown in a callback ends the process with one line and exit 1, no stack trace', () => {
    const r = runGuarded(`setTimeout(() => { throw new Error('assert(!this.paused)\\n    at Parser.finish'); }, 1);`);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('gssd: assert(!this.paused)\n(an internal error: set GSSD_DEBUG=1 for the stack trace)\n');
  });

  it('an unhandled rejection too; an input error keeps exit code 2', () => {
    const r = runGuarded(`Promise.reject(Object.assign(new Error('data.parquet: bad'), { exitCode: 2 }));`);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('gssd: data.parquet: bad\n');
    const s = runGuarded(`Promise.reject('a string');`);
    expect(s.code).toBe(1);
    expect(s.stderr.split('\n')[0]).toBe('gssd: a string');
  });

  it('GSSD_DEBUG=1 adds the stack', () => {
    const r = runGuarded(`setTimeout(() => { throw new Error('boom'); }, 1);`, { GSSD_DEBUG: '1' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^gssd: boom\nError: boom\n\s+at /);
  });
});

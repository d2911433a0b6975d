import { beforeAll, describe, expect, it } from 'vitest';
import { cp, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSyntheticDataset } from '../../pipelines/synthetic-data.js';
import { cliBuilt, runCli, tempDir } from './fixture.js';

/**
 * `gssd pretrain` through the CLI on 300 procedural images with a width-4 encoder: a killed
 * run resumes to the encoder an uninterrupted one writes, and --resume with a larger
 * --epochs extends a finished run to exactly the encoder of a longer run.
 */
describe.skipIf(!cliBuilt())('gssd pretrain (kill, resume, extend)', () => {
  let root: string;
  let data: string;
  let straight: Buffer;
  const args = (out: string, epochs: number) => ['pretrain', data, '--out', out, '--epochs', String(epochs), '--width', '4', '--batch', '64', '--checkpoint-steps', '2', '--seed', '3'];
  const weights = (out: string) => readFile(join(out, 'encoder', 'tensors.bin'));

  beforeAll(async () => {
    root = await tempDir('pretrain');
    await writeSyntheticDataset(join(root, 'src'), { rows: 300, seed: 5 });
    data = join(root, 'src');
    const r = await runCli(args(join(root, 'straight'), 2));
    expect(r.code, r.stderr).toBe(0);
    straight = await weights(join(root, 'straight'));
  }, 120_000);

  it('resumes a killed run to the encoder of an uninterrupted one', async () => {
    let killed = 0;
    for (const crash of ['atomic-write:3', 'atomic-write:6', 'atomic-write:9']) {
      const out = join(root, `killed-${crash.replace(/\W/g, '-')}`);
      const first = await runCli(args(out, 2), { env: { GSSD_CRASH_AT: crash } });
      if (first.signal === 'SIGKILL') killed++;
      else expect(first.code, first.stderr).toBe(0);
      const again = await runCli([...args(out, 2), '--resume']);
      expect(again.code, `${crash}: ${again.stderr}`).toBe(0);
      expect((await weights(out)).equals(straight), crash).toBe(true);
    }
    expect(killed, 'runs the crash points killed').toBeGreaterThanOrEqual(2);
  }, 180_000);

  it('a killed run directory copied elsewhere resumes from its own checkpoint and leaves the original alone', async () => {
    const out = join(root, 'copied-from');
    const first = await runCli(args(out, 2), { env: { GSSD_CRASH_AT: 'atomic-write:6' } });
    expect(first.signal, first.stderr).toBe('SIGKILL');
    const state = JSON.parse(await readFile(join(out, 'checkpoint', 'state.json'), 'utf8'));
    const saved: string = state.progress.savedDir; // recorded as a path under `out`
    expect(saved.startsWith(out)).toBe(true);
    const before = await readdir(saved);
    const copy = join(root, 'copied-to');
    await cp(out, copy, { recursive: true });
    const again = await runCli([...args(copy, 2), '--resume']);
    expect(again.code, again.stderr).toBe(0);
    expect((await weights(copy)).equals(straight)).toBe(true);
    // the copy took (and then replaced) its own checkpoints; the original's is where it was
    expect(await readdir(saved)).toEqual(before);
    await rm(copy, { recursive: true, force: true });
  }, 180_000);

  it('--memory low (re-run in a child process with the malloc settings): killed, it dies of SIGKILL and resumes to the uninterrupted encoder', async () => {
    const low = (out: string) => [...args(out, 2), '--memory', 'low'];
    const straightLow = join(root, 'straight-low');
    const r = await runCli(low(straightLow));
    expect(r.code, r.stderr).toBe(0);
    const out = join(root, 'killed-low');
    const first = await runCli(low(out), { env: { GSSD_CRASH_AT: 'atomic-write:3' } });
    expect(first.signal, first.stderr).toBe('SIGKILL');
    const again = await runCli([...low(out), '--resume']);
    expect(again.code, again.stderr).toBe(0);
    expect((await weights(out)).equals(await weights(straightLow))).toBe(true);
    const wrong = await runCli([...low(join(root, 'low-bad')), '--width', '0']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
  }, 300_000);

  it('extends a finished 1-epoch run with --resume --epochs 2 to the 2-epoch encoder', async () => {
    const out = join(root, 'extended');
    expect((await runCli(args(out, 1))).code).toBe(0);
    const one = await weights(out);
    expect(one.equals(straight)).toBe(false);
    const r = await runCli([...args(out, 2), '--resume', '--log', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('"event":"pretrain epochs changed"');
    expect((await weights(out)).equals(straight)).toBe(true);
    // now 2 epochs are done: fewer is refused, in one line
    const fewer = await runCli([...args(out, 1), '--resume']);
    expect(fewer.code).not.toBe(0);
    expect(fewer.stderr.trim().split('\n').at(-1)).toMatch(/^gssd pretrain: .*2 epochs are done there; --epochs must be at least 2$/);
    expect(fewer.stderr).not.toMatch(/\n\s+at /);
  }, 120_000);

  it('refuses to resume with other options, naming them', async () => {
    const r = await runCli([...args(join(root, 'straight'), 2), '--resume', '--width', '8', '--lr', '0.001']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^gssd pretrain: .*started with other --width, --lr; resume with the same options/);
  });

  it('records its training runtime: a tfjs run resumes on tfjs, and another runtime is refused', async () => {
    const out = join(root, 'tfjs');
    const first = await runCli([...args(out, 1), '--train-runtime', 'tfjs', '--log', 'json']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/"event":"pretrain runtime","runtime":"tfjs-/);
    const state = JSON.parse(await readFile(join(out, 'checkpoint', 'state.json'), 'utf8')) as { settings: { trainRuntime: string } };
    expect(state.settings.trainRuntime).toBe('tfjs');
    const refused = await runCli([...args(out, 2), '--resume', '--train-runtime', 'onnx']);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split('\n').at(-1)).toMatch(/started with --train-runtime tfjs; resume it with the same runtime/);
    const resumed = await runCli([...args(out, 2), '--resume', '--log', 'json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/"event":"pretrain runtime","runtime":"tfjs-/);
  }, 120_000);
});

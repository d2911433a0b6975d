import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { inspect } from '../../pipelines/inspect.js';
import { cliBuilt, runCli } from '../pipelines/fixture.js';
import { CIFAR_TRAIN, HAVE_CIFAR, SHARED, makeJpeg, noteSkip, tempDir, writeSmallDataset } from './helpers.js';

// `python3 -m http.server` answers HTTP/1.0, has no Range support and ends every body by
// closing the connection: the server that made undici's client fail an assertion.
const HAVE_PYTHON = spawnSync('python3', ['--version']).status === 0;
if (!HAVE_PYTHON) console.log('[skip] python3 not found: the `python3 -m http.server` tests are skipped');

let dir: string;
let cleanup: () => Promise<void>;
let base: string;
let file: string;

const servers: ChildProcess[] = [];

/** Starts `python3 -m http.server` on a free 127.0.0.1 port serving `root`; resolves its base URL. */
function startPythonServer(root: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const server = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', root], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    server.stdout!.on('data', (d) => {
      out += d;
      const m = /port (\d+)/.exec(out);
      if (m) resolve(`http://127.0.0.1:${m[1]}`);
    });
    server.on('error', reject);
    server.on('exit', (code) => reject(new Error(`python3 -m http.server exited with ${code}: ${out}`)));
    servers.push(server);
  });
}


beforeAll(async () => {
  if (!HAVE_PYTHON) return;
  ({ dir, cleanup } = await tempDir());
  const images = Array.from({ length: 2000 }, (_, i) => makeJpeg(32, 32, i));
  const labels = Array.from({ length: 2000 }, (_, i) => (i * 7) % 10);
  file = writeSmallDataset(join(dir, 'train.parquet'), 2000, { rowGroupSize: 500, images, labels });
  base = await startPythonServer(dir);
});
afterAll(async () => {
  for (const s of servers) s.kill();
  await cleanup?.();
});

describe.skipIf(!HAVE_PYTHON)('a plain static file server (python3 -m http.server)', () => {
  it('inspect over it equals inspect of the local file, every time', async () => {
    const local = (await inspect([file])).total;
    // the old client failed about half the time on this file: five reads in a row must all work
    for (let k = 0; k < 5; k++) {
      const remote = (await inspect([`${base}/train.parquet`], { retryDelayMs: 10 })).total;
      expect(remote).toEqual(local);
    }
  });

  it.skipIf(!cliBuilt())('`gssd inspect URL --json` prints the local counts and exits 0', async () => {
    const local = await runCli(['inspect', file, '--json', '--log', 'silent']);
    const remote = await runCli(['inspect', `${base}/train.parquet`, '--json', '--log', 'silent']);
    expect(remote.code, remote.stderr).toBe(0);
    expect(remote.stderr).toBe('');
    const strip = (s: string) => {
      const { total, inputs } = JSON.parse(s);
      return { total: { ...total, input: undefined }, inputs: inputs.map((i: object) => ({ ...i, input: undefined })) };
    };
    expect(strip(remote.stdout)).toEqual(strip(local.stdout));
    expect(JSON.parse(remote.stdout).total.rows).toBe(2000);
  });

  it.skipIf(!cliBuilt())('a missing file on it is a one-line error with exit code 2', async () => {
    const r = await runCli(['inspect', `${base}/missing.parquet`]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`gssd inspect: GET ${base}/missing.parquet: HTTP 404`);
  });
});

noteSkip(HAVE_CIFAR, 'CIFAR-10');
describe.skipIf(!HAVE_PYTHON || !HAVE_CIFAR)('the five CIFAR-10 train shards over python3 -m http.server', () => {
  it('inspect gives the local counts for every shard', async () => {
    const cifarBase = await startPythonServer(join(SHARED, 'cifar10'));
    const urls = CIFAR_TRAIN.map((f) => `${cifarBase}/${f.split('/').pop()}`);
    const strip = (s: { input: string }) => ({ ...s, input: undefined });
    const [local, remote] = [await inspect(CIFAR_TRAIN), await inspect(urls, { retryDelayMs: 10 })];
    expect(remote.inputs.map(strip)).toEqual(local.inputs.map(strip));
    expect(remote.total.rows).toBe(50_000);
  });
});

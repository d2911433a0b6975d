import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeSyntheticDataset } from '../../pipelines/synthetic-data.js';
import { cliBuilt } from '../pipelines/fixture.js';
import { CONSUMER_SOURCE, CONSUMER_TSCONFIG, TSC } from './consumer.js';

/**
 * The package as another project gets it: `npm pack`, then `npm install gssd-*.tgz` in a
 * fresh project with a clean environment (no .npmrc, no onnxruntime-node install flag), then
 * the CLI through `npx gssd`, the README's library example and a strict NodeNext `tsc` over
 * the published types. Where the CUDA download of onnxruntime-node cannot happen (only the npm
 * registry reachable), npm leaves that optional dependency out and gssd trains on TF.js.
 *
 * The install takes one to two minutes here, so it runs when GSSD_TEST_PACKAGE=1 (.ci/run
 * sets it). It packs `dist/` as `npm test` built it.
 */
const ENABLED = process.env.GSSD_TEST_PACKAGE === '1';
if (!ENABLED) console.warn('[skip] test/package/install.test.ts: set GSSD_TEST_PACKAGE=1 to pack and install the package (1-2 minutes)');

/** The environment of a user's shell: none of the repo's npm settings. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.toLowerCase().startsWith('npm_') || k.startsWith('ONNXRUNTIME_NODE_INSTALL') || k === 'INIT_CWD') continue;
    env[k] = v;
  }
  return env;
}

function run(cmd: string, args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(cmd, args, { cwd, env: cleanEnv(), maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

describe.skipIf(!ENABLED || !cliBuilt())('npm pack + npm install into a fresh project', () => {
  let root: string;
  let project: string;
  let ortInstalled: boolean;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'gssd-package-'));
    project = join(root, 'consumer');
    const pack = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', root], resolve('.'));
    expect(pack.code, pack.stderr).toBe(0);
    const tarball = (await readdir(root)).find((f) => /^gssd-.*\.tgz$/.test(f));
    expect(tarball).toBeDefined();
    await run('mkdir', ['-p', project], root);
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
    const install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(root, tarball!)], project);
    expect(install.code, install.stderr).toBe(0);
    ortInstalled = existsSync(join(project, 'node_modules', 'onnxruntime-node'));
    await writeSyntheticDataset(join(project, 'data'), { rows: 200, seed: 3 });
  }, 600_000);

  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('runs the CLI through npx; without onnxruntime-node, auto trains on TF.js and says so once', async () => {
    const r = await run('npx', ['gssd', 'pretrain', 'data', '--out', 'enc', '--epochs', '1', '--width', '4', '--batch', '64'], project);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(project, 'enc', 'encoder'))).toBe(true);
    const warnings = r.stderr.split('\n').filter((l) => l.includes('onnxruntime-node is not installed'));
    expect(warnings).toHaveLength(ortInstalled ? 0 : 1);
    if (!ortInstalled) {
      const onnx = await run('npx', ['gssd', 'pretrain', 'data', '--out', 'enc-onnx', '--train-runtime', 'onnx'], project);
      expect(onnx.code).toBe(2);
      // the last line is the error, in one line, with no stack trace
      expect(onnx.stderr.trim().split('\n').at(-1)).toMatch(/--train-runtime onnx: onnxruntime-node is not installed/);
      expect(onnx.stderr).not.toMatch(/\n\s+at /);
    }
  }, 300_000);

  it('runs the README library example', async () => {
    await copyFile(resolve('examples/etl-embed.mjs'), join(project, 'etl-embed.mjs'));
    const r = await run(process.execPath, ['etl-embed.mjs', 'data', 'enc/encoder'], project);
    expect(r.code, r.stderr).toBe(0);
    const perLabel = JSON.parse(r.stdout) as Record<string, { rows: number; meanNorm: number }>;
    expect(Object.values(perLabel).reduce((a, s) => a + s.rows, 0)).toBe(200);
  }, 120_000);

  it('type-checks a strict NodeNext consumer against the published types', async () => {
    await writeFile(join(project, 'main.ts'), CONSUMER_SOURCE);
    await writeFile(join(project, 'tsconfig.json'), JSON.stringify(CONSUMER_TSCONFIG));
    const r = await run(process.execPath, [TSC, '-p', '.'], project);
    expect(r.code, r.stdout).toBe(0);
  }, 120_000);
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/models/backend.js';
import { ResNet } from '../../src/models/resnet.js';
import { saveResNet } from '../../src/models/save.js';
import { OnnxEncoder } from '../../src/models/onnx-encoder.js';
import { Rng } from '../../src/rng.js';
import { cliBuilt, runCli } from './fixture.js';

let dir: string;
beforeAll(async () => {
  await initBackend('wasm');
  dir = await mkdtemp(join(tmpdir(), 'gssd-export-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!cliBuilt())('gssd export-onnx', () => {
  it('writes an encoder (given as a pretrain run directory) that embeds like TF.js', async () => {
    const net = new ResNet({ width: 4, imageSize: 32, seed: 5 });
    await mkdir(join(dir, 'run'));
    await saveResNet(net, join(dir, 'run', 'encoder'));
    const rng = new Rng(2);
    const n = 9;
    const pixels = Uint8Array.from({ length: n * 32 * 32 * 3 }, () => rng.int(256));
    const ref = await net.embed(pixels, n);
    const out = join(dir, 'enc.onnx');
    const r = await runCli(['export-onnx', '--encoder', join(dir, 'run'), '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ out, featureDim: 32, imageSize: 32, width: 4, inputLayout: 'nhwc255' });
    const enc = await OnnxEncoder.load(out, { provider: 'cpu' });
    const h = await enc.embed(pixels, n);
    let worst = 0;
    for (let i = 0; i < h.length; i++) worst = Math.max(worst, Math.abs(h[i] - ref[i]));
    expect(worst).toBeLessThan(1e-4);
    await enc.close();
    net.dispose();
  });

  it('says in one line when the directory holds no encoder, and writes nothing', async () => {
    const out = join(dir, 'none.onnx');
    const r = await runCli(['export-onnx', '--encoder', dir, '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('not a saved gssd encoder');
    expect(existsSync(out)).toBe(false);
  });
});

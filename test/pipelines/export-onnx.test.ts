import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/models/backend.js';
import { ResNet } from '../../src/models/resnet.js';
import { loadResNet, saveResNet } from '../../src/models/save.js';
import { writeSyntheticDataset } from '../../pipelines/synthetic-data.js';
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

  it('exports a gssd train model\'s backbone (--model), which a cleanse takes as --encoder', async () => {
    const data = join(dir, 'data');
    await writeSyntheticDataset(data, { rows: 200, seed: 4 });
    const run = join(dir, 'train-run');
    const t = await runCli(['train', data, '--out', run, '--width', '4', '--epochs', '1', '--batch', '64']);
    expect(t.code, t.stderr).toBe(0);
    const out = join(dir, 'backbone.onnx');
    const r = await runCli(['export-onnx', '--model', run, '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ out, featureDim: 32, imageSize: 32, width: 4, source: 'classifier backbone' });
    // the ONNX graph computes the trained backbone's features (the TF.js ResNet of the saved classifier)
    const net = await loadResNet(join(run, 'model'));
    const rng = new Rng(3);
    const pixels = Uint8Array.from({ length: 5 * 32 * 32 * 3 }, () => rng.int(256));
    const ref = await net.embed(pixels, 5);
    const enc = await OnnxEncoder.load(out, { provider: 'cpu' });
    const h = await enc.embed(pixels, 5);
    await enc.close();
    net.dispose();
    let worst = 0;
    for (let i = 0; i < h.length; i++) worst = Math.max(worst, Math.abs(h[i] - ref[i]));
    expect(worst).toBeLessThan(1e-4);
    // the round trip: a cleanse with the exported backbone as its encoder
    const c = await runCli(['cleanse', data, '--encoder', out, '--flow-epochs', '1', '--out', join(dir, 'cleanse'), '--json']);
    expect(c.code, c.stderr).toBe(0);
    const report = JSON.parse(c.stdout);
    expect([report.rows, report.featureDim, report.verdict.encoder.kind]).toEqual([200, 32, 'onnx']);
    // a train model given as --encoder: one line naming the right option
    const wrong = await runCli(['export-onnx', '--encoder', run, '--out', join(dir, 'wrong.onnx')]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('a gssd train model goes with --model');
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

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp, mkdtemp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/models/backend.js';
import { FlowBank } from '../../src/models/flow-bank.js';
import { ResNet } from '../../src/models/resnet.js';
import { SimclrTrainer } from '../../src/models/simclr.js';
import { loadFlowBank, loadResNet, loadSimclr, loadSimclrArrays, readManifest, saveFlowBank, saveResNet, saveSimclr } from '../../src/models/save.js';
import { InputError } from '../../src/errors.js';
import { augment } from '../../src/stages/augment.js';
import { Rng } from '../../src/rng.js';
import { structuredImages } from './fixture.js';

describe('save / load', () => {
  let dir: string;
  beforeAll(async () => {
    await initBackend('wasm');
    dir = await mkdtemp(join(tmpdir(), 'gssd-save-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gives bit-identical embeddings for a ResNet, after training-mode BatchNorm updates', async () => {
    const net = new ResNet({ width: 4, imageSize: 16, seed: 4 });
    const px = structuredImages(6, 16);
    const trainer = new SimclrTrainer(net, { seed: 1 });
    const rng = new Rng(1);
    const v1 = augment(px, 6, 16, rng);
    const v2 = augment(px, 6, 16, rng);
    trainer.step(v1, v2);
    await saveResNet(net, join(dir, 'enc'), { note: 'hello' });
    expect((await readdir(join(dir, 'enc'))).sort()).toEqual(['manifest.json', 'tensors.bin']);
    const again = await loadResNet(join(dir, 'enc'));
    expect(again.embedSync(px, 6)).toEqual(net.embedSync(px, 6));
    expect((await readManifest(join(dir, 'enc'))).extra).toEqual({ note: 'hello' });
    again.dispose();
    v1.dispose();
    v2.dispose();
    trainer.dispose();
    net.dispose();
  });

  it('resumes SimCLR training exactly (weights and Adam state)', async () => {
    const px = structuredImages(8, 16);
    const net = new ResNet({ width: 2, imageSize: 16, seed: 5 });
    const trainer = new SimclrTrainer(net, { seed: 2 });
    const rng = new Rng(2);
    const v1 = augment(px, 8, 16, rng);
    const v2 = augment(px, 8, 16, rng);
    trainer.step(v1, v2);
    await saveSimclr(trainer, join(dir, 'simclr'));
    const copy = await loadSimclr(join(dir, 'simclr'));
    expect(copy.step(v1, v2)).toBe(trainer.step(v1, v2));
    expect(copy.encoder.embedSync(px, 8)).toEqual(net.embedSync(px, 8));
    const enc = await loadResNet(join(dir, 'simclr'));
    expect(enc.featureDim).toBe(16);
    enc.dispose();
    copy.dispose();
    copy.encoder.dispose();
    trainer.dispose();
    net.dispose();
    v1.dispose();
    v2.dispose();
  });

  it('gives an identical flow bank: logProb and continued training', async () => {
    const d = 8;
    const rng = new Rng(3);
    const bank = new FlowBank({ numClasses: 3, dim: d, batchSize: 4, seed: 6 });
    const x = Float32Array.from({ length: 30 * d }, () => rng.normal());
    const labels = Int32Array.from({ length: 30 }, () => rng.int(3));
    bank.update(x, labels);
    await saveFlowBank(bank, join(dir, 'flows'), { mean: [1, 2] });
    const copy = await loadFlowBank(join(dir, 'flows'));
    expect(copy.logProb(x, 30)).toEqual(bank.logProb(x, 30));
    for (const b of [bank, copy]) {
      b.update(x, labels);
      b.endEpoch();
    }
    expect(copy.logProb(x, 30)).toEqual(bank.logProb(x, 30));
    expect([0, 1, 2].map((c) => copy.stepsTaken(c))).toEqual([0, 1, 2].map((c) => bank.stepsTaken(c)));
    await expect(loadResNet(join(dir, 'flows'))).rejects.toThrow(/flow-bank, expected a resnet/);
    copy.dispose();
    bank.dispose();
  });

  it('bad encoder directories are one-line InputErrors naming the file, checked before anything is built', async () => {
    const good = join(dir, 'good-enc');
    await saveResNet(new ResNet({ width: 2, imageSize: 16, seed: 1 }), good);
    const variant = async (name: string, change: (d: string) => Promise<void>) => {
      const d = join(dir, name);
      await cp(good, d, { recursive: true });
      await change(d);
      return d;
    };
    const failure = async (d: string) => {
      const err = await loadResNet(d).then(() => null, (e: Error) => e);
      expect(err).toBeInstanceOf(InputError);
      expect(err!.message).not.toContain('\n');
      return err!.message;
    };
    const noManifest = await variant('no-manifest', (d) => rm(join(d, 'manifest.json')));
    expect(await failure(noManifest)).toBe(`${noManifest}: no saved model (manifest.json missing)`);
    const badJson = await variant('bad-json', (d) => writeFile(join(d, 'manifest.json'), '{"format": "gssd-model", '));
    expect(await failure(badJson)).toMatch(new RegExp(`^${join(badJson, 'manifest.json')}: not valid JSON`));
    const short = await variant('short', (d) => truncate(join(d, 'tensors.bin'), 100));
    expect(await failure(short)).toMatch(new RegExp(`^${join(short, 'tensors.bin')}: 100 bytes, the manifest's arrays need \\d+`));
    const flows = join(dir, 'flows-not-enc');
    await saveFlowBank(new FlowBank({ dim: 4, numClasses: 2, seed: 1 }), flows);
    expect(await failure(flows)).toBe(`${flows}: holds a flow-bank, expected a resnet`);
    // a manifest edited to width 4000: an error at once, nothing allocated for that width
    const wide = await variant('wide', async (d) => {
      const m = JSON.parse(await readFile(join(d, 'manifest.json'), 'utf8'));
      m.config.width = 4000;
      await writeFile(join(d, 'manifest.json'), JSON.stringify(m));
    });
    const rss = process.memoryUsage().rss;
    expect(await failure(wide)).toBe(`${join(wide, 'manifest.json')}: the config (width 4000, stem cifar) needs 108000 values for encoder/stem.conv, the weights have 54`);
    expect(process.memoryUsage().rss - rss).toBeLessThan(100e6);
    const absurd = await variant('absurd', async (d) => {
      const m = JSON.parse(await readFile(join(d, 'manifest.json'), 'utf8'));
      m.config.width = 1e9;
      await writeFile(join(d, 'manifest.json'), JSON.stringify(m));
    });
    expect(await failure(absurd)).toMatch(/encoder width 1000000000 is not an integer in \[1, 4096\]/);
    // the SimCLR state loader (both training engines) checks the same way
    const sim = join(dir, 'sim-wide');
    await saveSimclr(new SimclrTrainer(new ResNet({ width: 2, imageSize: 16, seed: 1 }), { seed: 1 }), sim);
    const m = JSON.parse(await readFile(join(sim, 'manifest.json'), 'utf8'));
    m.config.encoder.width = 4000;
    await writeFile(join(sim, 'manifest.json'), JSON.stringify(m));
    await expect(loadSimclrArrays(sim)).rejects.toThrow(/needs 108000 values for encoder\/stem.conv/);
  });
});

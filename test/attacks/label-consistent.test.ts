import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { lcTriggerSide, makeAttack, pgdPerturb } from '../../src/attacks/index.js';
import { initBackend } from '../../src/models/backend.js';
import { Classifier, crossEntropy } from '../../src/models/classifier.js';
import { normalize } from '../../src/stages/augment.js';
import { decodeImage } from '../../src/stages/decode.js';
import { readBatches } from '../../src/io/read.js';
import { resolveInputs } from '../../src/io/inputs.js';
import { Rng } from '../../src/rng.js';
import { writeSyntheticDataset } from '../../pipelines/synthetic-data.js';
import { cliBuilt, runCli, tempDir } from '../pipelines/fixture.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const noise = (n: number, seed: number) => {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: n * 32 * 32 * 3 }, () => rng.int(256));
};

describe('Label-Consistent attack', () => {
  it('stamps a checkerboard in each corner and leaves the rest of the image alone', () => {
    const lc = makeAttack('lc');
    expect([lc.name, lc.dirtyLabel, lc.rate]).toEqual(['lc', false, 0.5]);
    const img = new Uint8Array(32 * 32 * 3).fill(128);
    const out = lc.apply(img, 32, new Rng(0));
    const at = (y: number, x: number) => out[(y * 32 + x) * 3];
    expect(lcTriggerSide(32)).toBe(3);
    for (const [y, x] of [[0, 0], [0, 29], [29, 0], [29, 29]]) {
      expect([at(y, x), at(y, x + 1), at(y + 1, x), at(y + 1, x + 1)]).toEqual([255, 0, 0, 255]);
    }
    let changed = 0;
    for (let i = 0; i < out.length; i++) if (out[i] !== 128) changed++;
    expect(changed).toBe(4 * 9 * 3); // 4 corners x 9 pixels x 3 channels, each 0 or 255
    expect(lc.applyTest(img, 32)).toEqual(out);
  });

  it('PGD stays within eps and [0, 255], is deterministic, and raises the classifier\'s loss', () => {
    const clf = new Classifier({ numClasses: 3, width: 2, seed: 4 });
    const n = 6;
    const x = noise(n, 9);
    const labels = [0, 1, 2, 0, 1, 2];
    const hard = pgdPerturb(clf, x, n, 32, labels, { eps: 8, step: 2, steps: 5 });
    expect(pgdPerturb(clf, x, n, 32, labels, { eps: 8, step: 2, steps: 5 })).toEqual(hard);
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(hard[i] - x[i]));
    expect(worst).toBeLessThanOrEqual(8);
    expect(worst).toBeGreaterThan(0);
    const loss = (p: Uint8Array) => tf.tidy(() => crossEntropy(clf.logits(normalize(p, n, 32), false), tf.tensor1d(labels, 'int32'), 3).dataSync()[0]);
    expect(loss(hard)).toBeGreaterThan(loss(x));
    clf.dispose();
  });
});

describe.skipIf(!cliBuilt())('gssd poison --attack lc', () => {
  it('perturbs and triggers half the target class against a gssd train model, labels kept', async () => {
    const root = await tempDir('lc');
    const data = join(root, 'data');
    await writeSyntheticDataset(data, { rows: 200, seed: 6 });
    const t = await runCli(['train', data, '--out', join(root, 'model'), '--width', '4', '--epochs', '1', '--batch', '64']);
    expect(t.code, t.stderr).toBe(0);
    const none = await runCli(['poison', data, '--attack', 'lc', '--out', join(root, 'x')]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--attack lc needs --lc-model');
    const p = await runCli(['poison', data, '--attack', 'lc', '--target', '2', '--lc-model', join(root, 'model'), '--out', join(root, 'p'), '--json']);
    expect(p.code, p.stderr).toBe(0);
    expect(JSON.parse(p.stdout)).toMatchObject({ attack: 'lc', poisoned: 10, covers: 0, rowsOut: 200 });
    const original = new Map<bigint, { label: number; px: Uint8Array }>();
    for await (const b of readBatches(await resolveInputs([data]))) for (let i = 0; i < b.numRows; i++) original.set(b.getChild('id')!.get(i), { label: b.getChild('label')!.get(i), px: decodeImage(b.getChild('image')!.get(i), 32) });
    const truth = new Map<bigint, boolean>();
    for await (const b of readBatches(await resolveInputs([join(root, 'p', 'truth')]), { columns: { id: 'id', label: 'source_label', image: 'image' }, requireImage: false })) for (let i = 0; i < b.numRows; i++) truth.set(b.getChild('id')!.get(i), b.getChild('is_poisoned')!.get(i));
    let poisoned = 0;
    for await (const b of readBatches(await resolveInputs([join(root, 'p', 'data')]))) {
      for (let i = 0; i < b.numRows; i++) {
        const id = b.getChild('id')!.get(i) as bigint;
        const o = original.get(id)!;
        expect(b.getChild('label')!.get(i)).toBe(o.label);
        const px = decodeImage(b.getChild('image')!.get(i), 32);
        if (!truth.get(id)) {
          expect(px).toEqual(o.px);
          continue;
        }
        poisoned++;
        expect(o.label).toBe(2);
        // the trigger in the corners, and at most eps = 8 away from the original elsewhere, with some change
        expect([px[0], px[3], px[(29 * 32 + 29) * 3]]).toEqual([255, 0, 255]);
        let worst = 0;
        for (let y = 3; y < 29; y++) for (let x = 3; x < 29; x++) for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(px[(y * 32 + x) * 3 + c] - o.px[(y * 32 + x) * 3 + c]));
        expect(worst).toBeGreaterThan(0);
        expect(worst).toBeLessThanOrEqual(8);
      }
    }
    expect(poisoned).toBe(10);
  });
});

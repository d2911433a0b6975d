import { beforeAll, describe, expect, it } from 'vitest';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSyntheticDataset } from '../../pipelines/synthetic-data.js';
import { readBatches } from '../../src/io/read.js';
import { cliBuilt, runCli, tempDir } from './fixture.js';

/**
 * `gssd evaluate` on a real poison -> cleanse run (600 procedural images, BadNets, a tiny
 * encoder), against figures computed here by brute force from the output Parquet and the
 * truth file.
 */
describe.skipIf(!cliBuilt())('gssd evaluate', () => {
  let root: string;
  let truth: string;
  let out: string;

  beforeAll(async () => {
    root = await tempDir('evaluate');
    await writeSyntheticDataset(join(root, 'src'), { rows: 600, seed: 4 });
    const p = await runCli(['poison', join(root, 'src'), '--attack', 'badnets', '--out', join(root, 'poisoned'), '--seed', '3']);
    expect(p.code, p.stderr).toBe(0);
    truth = join(root, 'poisoned', 'truth');
    const data = join(root, 'poisoned', 'data');
    const e = await runCli(['pretrain', data, '--out', join(root, 'enc'), '--epochs', '1', '--width', '4', '--batch', '64']);
    expect(e.code, e.stderr).toBe(0);
    out = join(root, 'run');
    const c = await runCli(['cleanse', data, '--encoder', join(root, 'enc', 'encoder'), '--flow-epochs', '3', '--target-detection', 'paper', '--out', out]);
    expect(c.code, c.stderr).toBe(0);
  }, 180_000);

  it('reports removal recall, clean loss and the score separation of the target class as counted from the files', async () => {
    const r = await runCli(['evaluate', '--cleansed', out, '--truth', truth, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const e = JSON.parse(r.stdout);

    const poisoned = new Map<bigint, boolean>();
    for await (const b of readBatches([join(truth, 'part-00000.parquet')], { columns: { id: 'id', label: 'source_label', image: 'image' }, requireImage: false })) {
      for (let i = 0; i < b.numRows; i++) poisoned.set(BigInt(b.getChild('id')!.get(i)), Boolean(b.getChild('is_poisoned')!.get(i)));
    }
    const rows: { split: string; label: number; score: number | null; poisoned: boolean }[] = [];
    for (const split of ['clean', 'poisoned', 'uncertain', 'rejected']) {
      const files = (await readdir(join(out, split))).filter((f) => f.endsWith('.parquet')).map((f) => join(out, split, f));
      if (!files.length) continue;
      for await (const b of readBatches(files)) {
        for (let i = 0; i < b.numRows; i++) {
          const score = b.getChild('gssd_score')!.get(i) as number | null;
          rows.push({ split, label: Number(b.getChild('label')!.get(i)), score, poisoned: poisoned.get(BigInt(b.getChild('id')!.get(i)))! });
        }
      }
    }
    expect(rows).toHaveLength(600);
    const bad = rows.filter((x) => x.poisoned);
    const good = rows.filter((x) => !x.poisoned);
    expect(e.split.removalRecall).toBeCloseTo(bad.filter((x) => x.split !== 'clean').length / bad.length, 12);
    expect(e.split.cleanLoss).toBeCloseTo(good.filter((x) => x.split !== 'clean').length / good.length, 12);

    // separation in the target class, by brute force over all (own, poisoned) pairs
    const target = bad[0].label;
    const own = good.filter((x) => x.label === target && x.score !== null).map((x) => x.score!);
    const poison = bad.filter((x) => x.score !== null).map((x) => x.score!);
    expect(own.length).toBeGreaterThan(0);
    expect(poison.length).toBeGreaterThan(0);
    let wins = 0;
    for (const o of own) for (const q of poison) wins += o > q ? 1 : o === q ? 0.5 : 0;
    expect(e.separation.label).toBe(target);
    expect(e.separation.ownRows).toBe(own.length);
    expect(e.separation.poisonedRows).toBe(poison.length);
    expect(e.separation.auroc).toBeCloseTo(wins / (own.length * poison.length), 3);
    // the best cut at 99% removal: above the (P - floor(0.01 P))-th lowest poisoned score
    const sorted = [...poison].sort((a, b) => a - b);
    const cut = sorted[sorted.length - Math.floor(0.01 * sorted.length) - 1];
    const kept = own.filter((o) => o > cut).length / own.length;
    expect(Math.abs(e.separation.ownKeptAt99Removal - kept)).toBeLessThanOrEqual(2 / own.length);
    // and at 100% removal: above the highest poisoned score
    const keptAll = own.filter((o) => o > sorted[sorted.length - 1]).length / own.length;
    expect(Math.abs(e.separation.ownKeptAtFullRemoval - keptAll)).toBeLessThanOrEqual(2 / own.length);
  }, 60_000);
});

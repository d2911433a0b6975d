import { existsSync } from 'node:fs';
import { cp, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Field, Int32, Int64, Binary } from 'apache-arrow';
import { train, type TrainOptions } from '../../pipelines/train.js';
import { testModel } from '../../pipelines/test-model.js';
import { PartSink } from '../../src/io/part-sink.js';
import { resolveInputs } from '../../src/io/inputs.js';
import { buildData, makeBatch } from '../../src/io/arrow-data.js';
import { encodePng } from '../../src/io/png.js';
import { loadClassifier } from '../../src/models/classifier.js';
import { syntheticImage } from '../../src/data/synthetic.js';
import { TENSORS } from '../../src/models/save.js';
import { Rng } from '../../src/rng.js';
import type { SourceSettings } from '../../src/io/source-settings.js';
import { cliBuilt, runCli, tempDir } from './fixture.js';

const SIZE = 16;
/** Horizontal stripes, vertical stripes, checkerboard: labels 0, 1, 2. */
const KINDS = [2, 3, 7];

const source: SourceSettings = {
  batchRows: 32,
  columns: { id: 'id', label: 'label', image: 'image' },
  imageSize: SIZE,
  retries: 0,
  concurrency: 2,
  timeoutMs: 10_000,
};

interface FixtureRow {
  kind: number;
  label: number;
  gssdLabel?: number | null;
}

/** Writes rows as Parquet parts (PNG images of class `kind`, columns id, label, image and optionally gssd_label). */
async function writeRows(dir: string, rows: FixtureRow[], seed: number, { partRows = 1000, metadata }: { partRows?: number; metadata?: Record<string, string> } = {}): Promise<void> {
  const rng = new Rng(seed);
  const withGssd = rows.some((r) => r.gssdLabel !== undefined);
  const fields = [new Field('id', new Int64(), false), new Field('label', new Int32(), false), new Field('image', new Binary(), false)];
  if (withGssd) fields.push(new Field('gssd_label', new Int32(), true));
  const sink = await PartSink.open(dir, { partRows, rowGroupRows: 10, metadata });
  const n = rows.length;
  const children = [
    buildData(fields[0].type, rows.map((_, i) => BigInt(i)), 0, n),
    buildData(fields[1].type, rows.map((r) => r.label), 0, n),
    buildData(fields[2].type, rows.map((r) => encodePng(syntheticImage(KINDS[r.kind], rng, SIZE), SIZE)), 0, n),
  ];
  if (withGssd) children.push(buildData(fields[3].type, rows.map((r) => r.gssdLabel ?? null), 0, n));
  await sink.write(makeBatch(fields, children));
  await sink.close();
}

describe('train and test-model pipelines', () => {
  let root: string;
  let clean: string;
  let poisoned: string;
  let testSet: string;
  beforeAll(async () => {
    root = await tempDir('train');
    clean = join(root, 'run', 'clean');
    poisoned = join(root, 'run', 'poisoned');
    testSet = join(root, 'test');
    // the cleanse output: gssd_label is the truth, the label column a wrong one (so we see which is used)
    await writeRows(clean, Array.from({ length: 96 }, (_, i) => ({ kind: i % 3, label: (i + 1) % 3, gssdLabel: i % 3 })), 1, { partRows: 40 });
    // 'poisoned': 4 relabelled rows, 8 dropped ones (gssd_label null)
    await writeRows(poisoned, Array.from({ length: 12 }, (_, i) => ({ kind: i % 3, label: 0, gssdLabel: i < 4 ? i % 3 : null })), 2);
    await writeRows(testSet, Array.from({ length: 30 }, (_, i) => ({ kind: i % 3, label: i % 3 })), 3);
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const options = (out: string, over: Partial<TrainOptions> = {}): TrainOptions => ({
    inputs: [join(clean, 'part-00000.parquet'), join(clean, 'part-00001.parquet'), join(clean, 'part-00002.parquet')],
    finetune: [join(poisoned, 'part-00000.parquet')],
    out,
    source,
    width: 4,
    epochs: 20,
    batch: 16,
    lr: 0.05,
    finetuneEpochs: 1,
    finetuneLr: 1e-4,
    seed: 3,
    resume: false,
    shuffleBuffer: 48,
    checkpointSteps: 4,
    backend: 'wasm',
    ...over,
  });

  it('trains on gssd_label, fine-tunes on the relabelled rows only, and tests ACC and ASR', async () => {
    const out = join(root, 'full');
    const s = await train(options(out));
    expect(s).toMatchObject({ model: join(out, 'model'), numClasses: 3, trainRows: 96, finetuneRows: 4, skippedRows: 8, stopped: false, undecodable: 0 });
    expect(s.trainAccuracy!).toBeGreaterThan(0.9);
    expect(existsSync(join(out, 'model', TENSORS))).toBe(true);
    // a finished run is not run again
    expect((await train(options(out, { resume: true }))).model).toBe(join(out, 'model'));
    await expect(train(options(out))).rejects.toThrow(/not empty; use --resume/);

    const r = await testModel({ model: out, clean: await resolveInputs([testSet]), source, backend: 'wasm' });
    expect(r.cleanRows).toBe(30);
    expect(r.acc!).toBeGreaterThan(0.8);
    expect(r.asr).toBeNull();

    // hand-built ACC/ASR: labels chosen from the model's own predictions
    const clf = await loadClassifier(join(out, 'model'));
    const rng = new Rng(3);
    const per = SIZE * SIZE * 3;
    const px = new Uint8Array(30 * per);
    for (let i = 0; i < 30; i++) px.set(syntheticImage(KINDS[i % 3], rng, SIZE), i * per);
    const pred = clf.predict(px, 30);
    clf.dispose();
    // clean: 21 rows labelled with the prediction, 9 with another class -> ACC 0.7
    const handClean = join(root, 'hand-clean');
    await writeRows(handClean, Array.from({ length: 30 }, (_, i) => ({ kind: i % 3, label: i < 21 ? pred[i] : (pred[i] + 1) % 3 })), 3);
    // triggered, target 1 (from the metadata): rows labelled 1 are left out; ASR = share of the others predicted 1
    const labels = Array.from({ length: 30 }, (_, i) => (i % 5 === 0 ? 1 : (i % 2) * 2));
    const handTriggered = join(root, 'hand-triggered');
    await writeRows(handTriggered, labels.map((label, i) => ({ kind: i % 3, label })), 3, {
      metadata: { gssd_poison: JSON.stringify({ attack: 'badnets', rate: 0.1, target: 1, seed: 0, split: 'test' }) },
    });
    const others = labels.map((l, i) => [l, pred[i]]).filter(([l]) => l !== 1);
    const hand = await testModel({ model: join(out, 'model'), clean: await resolveInputs([handClean]), triggered: await resolveInputs([handTriggered]), source, backend: 'wasm' });
    expect(hand).toMatchObject({ acc: 0.7, correct: 21, cleanRows: 30, target: 1, triggeredRows: others.length, targetRowsExcluded: 30 - others.length });
    expect(hand.hits).toBe(others.filter(([, p]) => p === 1).length);
    // per class: the clean rows by their label, right when the label is the prediction (rows 0-20)
    const handLabels = Array.from({ length: 30 }, (_, i) => (i < 21 ? pred[i] : (pred[i] + 1) % 3));
    const expected = [0, 1, 2]
      .map((label) => ({ label, rows: handLabels.filter((l) => l === label).length, correct: handLabels.filter((l, i) => l === label && i < 21).length }))
      .filter((c) => c.rows > 0)
      .map((c) => ({ ...c, acc: c.correct / c.rows }));
    expect(hand.perClass).toEqual(expected);
    expect(hand.asr).toBeCloseTo(hand.hits / others.length, 10);
    // an explicit target wins over the metadata
    const t0 = await testModel({ model: out, clean: await resolveInputs([handClean]), triggered: await resolveInputs([handTriggered]), target: 0, source, backend: 'wasm' });
    expect(t0.target).toBe(0);
    expect(t0.triggeredRows).toBe(labels.filter((l) => l !== 0).length);
    // without metadata, the target is required
    await expect(testModel({ model: out, clean: await resolveInputs([handClean]), triggered: await resolveInputs([handClean]), source, backend: 'wasm' })).rejects.toThrow(/give --target/);
  });

  it('stopped and resumed (in the main and in the fine-tuning phase) gives the same weights as an uninterrupted run', async () => {
    const small = (out: string, over: Partial<TrainOptions> = {}) => options(out, { epochs: 2, batch: 8, finetuneEpochs: 2, checkpointSteps: 5, shuffleBuffer: 20, ...over });
    const refOut = join(root, 'ref');
    const ref = await train(small(refOut));
    // 96 rows / 8 = 12 steps per epoch, 2 epochs; fine-tuning: 4 rows -> 1 step per epoch
    expect(ref.steps).toBe(26);
    const want = await readFile(join(refOut, 'model', TENSORS));
    for (const stops of [[3], [12, 7], [24], [25]]) {
      const out = join(root, `stopped-${stops.join('-')}`);
      let s = await train(small(out, { stopAfterSteps: stops[0] }));
      expect(s.stopped).toBe(true);
      for (const k of stops.slice(1)) {
        s = await train(small(out, { resume: true, stopAfterSteps: k }));
        expect(s.stopped).toBe(true);
      }
      s = await train(small(out, { resume: true }));
      expect(s.stopped).toBe(false);
      expect(Buffer.compare(await readFile(join(out, 'model', TENSORS)), want), `stopped after ${stops}`).toBe(0);
    }
    await expect(train(small(join(root, 'stopped-3'), { resume: true, lr: 0.01 }))).rejects.toThrow(/other options/);
  });

  it('a stopped run directory copied elsewhere resumes from its own checkpoint and leaves the original alone', async () => {
    const small = (out: string, over: Partial<TrainOptions> = {}) => options(out, { epochs: 2, batch: 8, finetuneEpochs: 2, checkpointSteps: 5, shuffleBuffer: 20, ...over });
    const ref = join(root, 'copy-ref');
    await train(small(ref));
    const out = join(root, 'copy-from');
    expect((await train(small(out, { stopAfterSteps: 7 }))).stopped).toBe(true);
    const saved: string = JSON.parse(await readFile(join(out, 'checkpoint', 'state.json'), 'utf8')).progress.savedDir;
    expect(saved.startsWith(out)).toBe(true);
    const before = await readdir(saved);
    const copy = join(root, 'copy-to');
    await cp(out, copy, { recursive: true });
    expect((await train(small(copy, { resume: true }))).stopped).toBe(false);
    expect(Buffer.compare(await readFile(join(copy, 'model', TENSORS)), await readFile(join(ref, 'model', TENSORS)))).toBe(0);
    expect(await readdir(saved)).toEqual(before);
  });

  describe.skipIf(!cliBuilt())('the built CLI', () => {
    it('SIGKILLed at a checkpoint write and resumed gives the same model', async (ctx) => {
      const help = await runCli(['train', '--help']);
      if (help.code !== 0) return ctx.skip();
      const args = (out: string) => [
        'train', join(clean, 'part-00000.parquet'), join(clean, 'part-00001.parquet'), join(clean, 'part-00002.parquet'),
        '--finetune', join(poisoned, 'part-00000.parquet'), '--out', out, '--width', '4', '--epochs', '2', '--batch', '8',
        '--finetune-epochs', '2', '--checkpoint-steps', '5', '--shuffle-buffer', '20', '--image-size', String(SIZE), '--seed', '3',
        '--backend', 'wasm', '--log', 'silent', '--json',
      ];
      const refOut = join(root, 'cli-ref');
      const ref = await runCli(args(refOut));
      expect(ref.code, ref.stderr).toBe(0);
      const want = await readFile(join(refOut, 'model', TENSORS));
      // atomic writes: 1 state.json at the start, 3 per checkpoint (tensors, manifest, state): the main training
      // checkpoints are writes 2-19, the fine-tuning ones 20-25, the model 26-27
      for (const n of [1, 8, 21]) {
        const out = join(root, `cli-killed-${n}`);
        const killed = await runCli(args(out), { env: { GSSD_CRASH_AT: `atomic-write:${n}` } });
        expect(killed.signal, killed.stderr).toBe('SIGKILL');
        const resumed = await runCli([...args(out), '--resume']);
        expect(resumed.code, resumed.stderr).toBe(0);
        expect(Buffer.compare(await readFile(join(out, 'model', TENSORS)), want), `killed at write ${n}`).toBe(0);
      }
    });
  });
});

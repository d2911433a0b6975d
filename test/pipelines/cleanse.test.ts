import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSyntheticDataset } from '../../pipelines/synthetic-data.js';
import { cliBuilt, readOutput, runCli, tempDir, type OutRow } from './fixture.js';

/**
 * The cleanse pipeline end to end through the CLI, on 800 procedural images poisoned with
 * BadNets, with a tiny encoder so the whole run takes about two seconds.
 */
describe.skipIf(!cliBuilt())('gssd cleanse (end to end, kill and resume)', () => {
  let root: string;
  let data: string;
  let encoder: string;
  const base = () => [data, '--encoder', encoder, '--flow-epochs', '4', '--checkpoint-rows', '100', '--part-rows', '150', '--batch-rows', '50', '--seed', '7', '--log', 'json'];

  beforeAll(async () => {
    root = await tempDir('cleanse');
    await writeSyntheticDataset(join(root, 'src'), { rows: 800, seed: 11 });
    const p = await runCli(['poison', join(root, 'src'), '--attack', 'badnets', '--out', join(root, 'poisoned'), '--seed', '2']);
    expect(p.code, p.stderr).toBe(0);
    data = join(root, 'poisoned', 'data');
    const e = await runCli(['pretrain', data, '--out', join(root, 'enc'), '--epochs', '1', '--width', '4', '--batch', '64']);
    expect(e.code, e.stderr).toBe(0);
    encoder = join(root, 'enc', 'encoder');
  }, 180_000);

  it('routes every row once, with the verdict columns, and writes the reports', async () => {
    const out = join(root, 'plain');
    const r = await runCli(['cleanse', ...base(), '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    const rows = await readOutput(out);
    expect(rows).toHaveLength(800);
    expect(new Set(rows.map((x) => x.id)).size).toBe(800);
    const sum = Object.values(report.splits as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(sum).toBe(800);
    for (const split of ['clean', 'poisoned', 'uncertain', 'rejected']) {
      expect(rows.filter((x) => x.split === split)).toHaveLength(report.splits[split]);
    }
    for (const x of rows.filter((x) => x.split === 'clean')) expect(x.label).not.toBeNull();
    expect(JSON.parse(await readFile(join(out, 'report.json'), 'utf8')).rows).toBe(800);
    // the defaults chosen by the efficacy benchmark: robust detection at alpha 0.2, adaptive cut
    expect([report.parameters.targetDetection, report.parameters.robustAlpha, report.parameters.cut]).toEqual(['robust', 0.2, 'adaptive']);
    const html = await readFile(join(out, 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/<script|https?:\/\//);
    expect(existsSync(join(out, 'work'))).toBe(false);
    // every split directory is readable, an empty one as a zero-row part with the schema
    for (const split of ['clean', 'poisoned', 'uncertain', 'rejected']) expect(existsSync(join(out, split, 'part-00000.parquet')), split).toBe(true);
    expect(report.splits.rejected).toBe(0);
    // JSON-lines logging: every stderr line is an event
    for (const line of r.stderr.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
  });

  it('runs the baseline detectors on the same embeddings and routing', async () => {
    for (const detector of ['spectral', 'activation-clustering']) {
      const out = join(root, `baseline-${detector}`);
      const r = await runCli(['cleanse', data, '--encoder', encoder, '--detector', detector, '--out', out, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout);
      expect(report.detector).toBe(detector);
      expect(report.detection).toBeNull();
      const rows = await readOutput(out);
      expect(rows).toHaveLength(800);
      expect(rows.filter((x) => x.split === 'poisoned')).toHaveLength(report.baseline.removed);
      if (detector === 'spectral') expect(report.baseline.removed).toBe(report.baseline.classes.reduce((a: number, c: { n: number }) => a + Math.floor(0.15 * c.n), 0));
    }
  });

  it('runs Deep k-NN (--detector knn) blockwise, and a run killed between blocks resumes to the same output', async () => {
    const args = (out: string) => ['cleanse', data, '--encoder', encoder, '--detector', 'knn', '--knn-k', '10', '--checkpoint-rows', '100', '--out', out, '--json'];
    const whole = join(root, 'knn-whole');
    const r = await runCli(args(whole));
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect([report.detector, report.baseline.method, report.parameters.knnK]).toEqual(['knn', 'deep-knn', 10]);
    // the verdict names the class whose removed share came nearest to a flag (or the flagged ones)
    if (!report.flagged.length) expect(report.verdict.text).toMatch(/^no class flagged by knn: largest outlier index -?\d+\.\d\d \(class \d, share removed by Deep k-NN\) against critical/);
    const rows = await readOutput(whole);
    expect(rows).toHaveLength(800);
    expect(rows.filter((x) => x.split === 'poisoned')).toHaveLength(report.baseline.removed);
    // gssd_score is the share of a row's 10 neighbours that carry its label; removed rows are outvoted
    for (const x of rows) expect(x.score! * 10).toBeCloseTo(Math.round(x.score! * 10), 4);
    for (const x of rows.filter((y) => y.split === 'poisoned')) expect(x.score).toBeLessThanOrEqual(0.5);
    const killed = join(root, 'knn-killed');
    const k = await runCli(args(killed), { env: { GSSD_CRASH_AT: 'knn-block:3' } });
    expect(k.signal).toBe('SIGKILL');
    const state = JSON.parse(await readFile(join(killed, 'checkpoint', 'state.json'), 'utf8'));
    expect(state.knn.rowsDone).toBe(300);
    const resumed = await runCli([...args(killed), '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await readOutput(killed)).toEqual(rows);
  });

  it('applies --robust-alpha in robust detection and refuses to resume with another', async () => {
    const out = join(root, 'robust');
    const r = await runCli(['cleanse', data, '--encoder', encoder, '--flow-epochs', '2', '--target-detection', 'robust', '--robust-alpha', '0.3', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.detection.mode).toBe('robust');
    expect(report.detection.options.robustAlpha).toBe(0.3);
    // the ND critical value is the 1 - alpha / m quantile of Student's t(m - 2), m classes tested
    const { studentTQuantile } = await import('../../src/detect/student-t.js');
    const tested = report.detection.classes.filter((c: { ndTest: { index: number | null } }) => c.ndTest.index !== null);
    expect(tested.length).toBeGreaterThanOrEqual(3);
    expect(tested[0].ndTest.critical).toBeCloseTo(studentTQuantile(1 - 0.3 / tested.length, tested.length - 2), 9);
    const again = await runCli(['cleanse', data, '--encoder', encoder, '--flow-epochs', '2', '--target-detection', 'robust', '--robust-alpha', '0.1', '--out', out, '--resume']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/robustAlpha: 0.3 then/);
    const bad = await runCli(['cleanse', data, '--encoder', encoder, '--robust-alpha', '1', '--out', join(root, 'robust-bad')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--robust-alpha/);
  });

  it('takes a bring-your-own ONNX encoder and embeds with either runtime', async () => {
    const { loadResNet } = await import('../../src/models/save.js');
    const { exportResNetToOnnx } = await import('../../src/models/onnx-export.js');
    const { writeFile: write } = await import('node:fs/promises');
    const onnx = join(root, 'tower.onnx');
    await write(onnx, exportResNetToOnnx(await loadResNet(encoder)));
    const byo = await runCli(['cleanse', data, '--encoder', onnx, '--flow-epochs', '2', '--out', join(root, 'byo'), '--json', '--log', 'json']);
    expect(byo.code, byo.stderr).toBe(0);
    expect(byo.stderr).toContain('"runtime":"onnx-cpu"');
    expect((await readOutput(join(root, 'byo'))).length).toBe(800);
    const tfjs = await runCli(['cleanse', data, '--encoder', onnx, '--embed-runtime', 'tfjs', '--out', join(root, 'byo-tfjs')]);
    expect(tfjs.code).toBe(2);
    expect(tfjs.stderr).toMatch(/is an ONNX model/);
    const viaTfjs = await runCli(['cleanse', data, '--encoder', encoder, '--embed-runtime', 'tfjs', '--flow-epochs', '2', '--out', join(root, 'tfjs'), '--log', 'json']);
    expect(viaTfjs.code, viaTfjs.stderr).toBe(0);
    expect(viaTfjs.stderr).toContain('"runtime":"tfjs-');
  });

  it('runs as a library call and releases every tensor it made', async () => {
    const tf = await import('@tensorflow/tfjs-core');
    const { cleanse, CLEANSE_DEFAULTS } = await import('../../pipelines/cleanse.js');
    const { initBackend } = await import('../../src/models/backend.js');
    await initBackend('auto');
    const before = tf.memory().numTensors;
    const source = { batchRows: 256, columns: { id: 'id', label: 'label', image: 'image' }, imageSize: 32, retries: 0, concurrency: 1, timeoutMs: 1000 };
    const report = await cleanse({ ...CLEANSE_DEFAULTS, inputs: [join(data, 'part-00000.parquet')], out: join(root, 'library'), source, encoder, embedRuntime: 'tfjs', flowEpochs: 2, resume: false, force: false, keepWork: false });
    expect(Object.values(report.splits).reduce((a, b) => a + b, 0)).toBe(800);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses to resume a run with other options, naming them', async () => {
    const args = base().slice(0, -2); // without --log json
    const r = await runCli(['cleanse', ...args, '--out', join(root, 'plain'), '--resume', '--flow-epochs', '5']);
    expect(r.code).toBe(2);
    expectOneErrorLine(r.stderr);
    expect(r.stderr).toMatch(/started with other options \(flowEpochs: 4 then, 5 now\)/);
  });

  it('pretrains with --memory low (one view at a time, in a child process), and refuses to resume without it', async () => {
    const out = join(root, 'low');
    const args = [data, '--pretrain-epochs', '1', '--width', '2', '--pretrain-batch', '64', '--flow-epochs', '1', '--checkpoint-rows', '100', '--batch-rows', '50', '--out', out];
    const r = await runCli(['cleanse', ...args, '--memory', 'low', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(Object.values(report.splits as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(800);
    expect(report.runtimes.pretrain).toMatch(/^onnx/);
    const again = await runCli(['cleanse', ...args, '--resume']);
    expect(again.code).toBe(2);
    expectOneErrorLine(again.stderr);
    expect(again.stderr).toMatch(/started with other options \(memory: "low" then, undefined now\)/);
  });

  it('refuses a non-empty --out without --resume or --force, in one line', async () => {
    const out = join(root, 'plain');
    const r = await runCli(['cleanse', data, '--encoder', encoder, '--out', out]);
    expect(r.code).toBe(2);
    expectOneErrorLine(r.stderr);
    expect(r.stderr).toMatch(/not empty; use --resume .* or --force/);
  });

  // Crash points only, no wall-clock kills: the outcome must not depend on machine load
  // (`npm run soak:resume` keeps kills at random moments, outside npm test).
  it('gives the same output after SIGKILLs mid-pass, at sink commits and at checkpoint writes as an uninterrupted run', async () => {
    const reference = await readOutput(join(root, 'plain'));
    // `points[k]` is the crash point of the k-th process of a run (the first, then each resume)
    const crashes: { name: string; points: string[] }[] = [
      { name: 'sink commit 2', points: ['sink-commit:2'] },
      { name: 'sink commit 5', points: ['sink-commit:5'] },
      { name: 'checkpoint write 4', points: ['atomic-write:4'] },
      { name: 'checkpoint write 13', points: ['atomic-write:13'] },
      { name: 'checkpoint write 21', points: ['atomic-write:21'] },
      // one run killed in each pass in turn, after a batch's work and before its checkpoint:
      // where a kill at a random moment mostly lands
      { name: 'mid embed, fit, score and route', points: ['progress/embed:3', 'progress/fit:3', 'progress/score:1', 'progress/route:5'] },
    ];
    const passesHit = new Set<string>();
    let killed = 0;
    let carried = 0;
    for (const crash of crashes) {
      let before = 0;
      const out = join(root, `killed-${crash.name.replace(/\W+/g, '-')}`);
      const env = (k: number): Record<string, string> => (k < crash.points.length ? { GSSD_CRASH_AT: crash.points[k] } : {});
      let attempts = 0;
      let last = await runCli(['cleanse', ...base(), '--out', out], { env: env(0) });
      while (last.code !== 0) {
        expect(last.signal, `${crash.name}: ${last.stderr}`).toBe('SIGKILL');
        killed++;
        const state = JSON.parse(await readFile(join(out, 'checkpoint', 'state.json'), 'utf8').catch(() => '{"pass":"none"}'));
        passesHit.add(state.pass);
        // a mid-pass crash point dies in its own pass
        const pass = /^progress\/(\w+):/.exec(crash.points[attempts] ?? '')?.[1];
        if (pass) expect(state.pass, `${crash.name}: ${crash.points[attempts]}`).toBe(pass);
        before = state.elapsedSeconds ?? 0;
        expect(attempts++).toBeLessThan(crash.points.length + 2);
        last = await runCli(['cleanse', ...base(), '--out', out, '--resume'], { env: env(attempts) });
      }
      // the report's wall time counts the killed segments (up to their last commits) too
      const wall = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')).wallSeconds;
      expect(wall).toBeGreaterThan(before);
      if (before > 0) carried++;
      const rows = await readOutput(out);
      expectSameRows(rows, reference, crash.name);
      const parts = await readdir(join(out, 'clean'));
      expect(parts.filter((p) => p.endsWith('.tmp'))).toEqual([]);
    }
    expect(killed, 'runs the crash points killed').toBe(crashes.reduce((n, c) => n + c.points.length, 0));
    expect(carried, 'killed runs whose elapsed time was carried into the resumed report').toBeGreaterThan(0);
    for (const pass of ['embed', 'fit', 'route']) expect([...passesHit], 'passes the kills landed in').toContain(pass);
  }, 240_000);

  it('rejects undecodable images into `rejected` with a reason and keeps every row', async () => {
    const dir = await rewrite(data, join(root, 'with-garbage'), (row, i) => (i % 97 === 5 ? { ...row, image: new TextEncoder().encode('not an image') } : row));
    const out = join(root, 'garbage-run');
    const r = await runCli(['cleanse', dir, '--encoder', encoder, '--flow-epochs', '2', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rows = await readOutput(out);
    expect(rows).toHaveLength(800);
    const rejected = rows.filter((x) => x.split === 'rejected');
    expect(rejected).toHaveLength(Array.from({ length: 800 }, (_, i) => i).filter((i) => i % 97 === 5).length);
    for (const x of rejected) expect(x.reason).toMatch(/undecodable image/);
  });

  it('sends the rows of a class too small for a flow to `uncertain`, with the reason', async () => {
    const dir = await rewrite(data, join(root, 'tiny-class'), (row, i) => (i === 3 ? { ...row, label: 10 } : row));
    const out = join(root, 'tiny-class-run');
    const r = await runCli(['cleanse', dir, '--encoder', encoder, '--flow-epochs', '2', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).numClasses).toBe(11);
    const rows = await readOutput(out);
    expect(rows).toHaveLength(800);
    const lone = rows.filter((x) => x.reason.includes('fewer than 2 rows'));
    expect(lone).toHaveLength(1);
    expect(lone[0].split).toBe('uncertain');
  });

  it('says in one line that one class is not enough', async () => {
    const dir = await rewrite(data, join(root, 'one-class'), (row) => ({ ...row, label: 0 }));
    const r = await runCli(['cleanse', dir, '--encoder', encoder, '--out', join(root, 'one-class-run')]);
    expect(r.code).toBe(2);
    expectOneErrorLine(r.stderr);
    expect(r.stderr).toMatch(/only 1 class has 2 or more usable rows/);
  });

  it('says in one line when a label is outside --num-classes', async () => {
    const r = await runCli(['cleanse', data, '--encoder', encoder, '--num-classes', '5', '--out', join(root, 'k5')]);
    expect(r.code).toBe(2);
    expectOneErrorLine(r.stderr);
    expect(r.stderr).toMatch(/label \d+ is outside \[0, 5\)/);
  });

  it('runs the README library example (a gssd stage inside an ETL job)', async () => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const { stdout } = await promisify(execFile)(process.execPath, ['examples/etl-embed.mjs', data, encoder]);
    const perLabel = JSON.parse(stdout) as Record<string, { rows: number; meanNorm: number }>;
    expect(Object.values(perLabel).reduce((a, s) => a + s.rows, 0)).toBe(800);
    for (const s of Object.values(perLabel)) expect(s.meanNorm).toBeGreaterThan(0);
  });

  it('says in one line when the input is not Parquet', async () => {
    const bad = join(root, 'bad.parquet');
    await writeFile(bad, 'hello');
    const r = await runCli(['cleanse', bad, '--encoder', encoder, '--out', join(root, 'bad-run')]);
    expect(r.code).toBe(2);
    expectOneErrorLine(r.stderr);
    expect(r.stderr).toContain('bad.parquet');
  });
});

function expectSameRows(rows: OutRow[], reference: OutRow[], name: string): void {
  expect(rows.length, name).toBe(reference.length);
  for (let i = 0; i < rows.length; i++) {
    const a = rows[i];
    const b = reference[i];
    expect([a.split, a.id, a.label, a.reason], `${name}: row ${i}`).toEqual([b.split, b.id, b.label, b.reason]);
    if (a.score === null || b.score === null) expect(a.score).toBe(b.score);
    else expect(Math.abs(a.score - b.score), `${name}: row ${i} score`).toBeLessThanOrEqual(1e-6);
  }
}
interface Row {
  id: bigint;
  label: number;
  image: Uint8Array;
}

/** A copy of a dataset's rows through `change(row, index)`, as one Parquet part in `dir`. */
async function rewrite(input: string, dir: string, change: (row: Row, i: number) => Row): Promise<string> {
  const { PartSink } = await import('../../src/io/part-sink.js');
  const { makeBatch, buildData } = await import('../../src/io/arrow-data.js');
  const { readBatches } = await import('../../src/io/read.js');
  const { resolveInputs } = await import('../../src/io/inputs.js');
  const { Field, Int64, Int32, Binary } = await import('apache-arrow');
  const fields = [new Field('id', new Int64(), false), new Field('label', new Int32(), false), new Field('image', new Binary(), false)];
  const sink = await PartSink.open(dir);
  let k = 0;
  for await (const b of readBatches(await resolveInputs([input]))) {
    const rows = Array.from({ length: b.numRows }, (_, i) =>
      change({ id: b.getChild('id')!.get(i), label: b.getChild('label')!.get(i), image: b.getChild('image')!.get(i) }, k + i),
    );
    const n = rows.length;
    await sink.write(
      makeBatch(fields, [
        buildData(fields[0].type, rows.map((r) => r.id), 0, n),
        buildData(fields[1].type, rows.map((r) => r.label), 0, n),
        buildData(fields[2].type, rows.map((r) => r.image), 0, n),
      ]),
    );
    k += n;
  }
  await sink.close();
  return dir;
}

/** Exactly one `gssd <command>: ...` error line, and no stack trace. */
function expectOneErrorLine(stderr: string): void {
  const lines = stderr.trim().split('\n');
  expect(lines.filter((l) => /^gssd \w+: /.test(l)), stderr).toHaveLength(1);
  expect(lines.filter((l) => /^\s+at /.test(l)), stderr).toEqual([]);
}

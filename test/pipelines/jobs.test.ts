import { beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSyntheticDataset } from '../../pipelines/synthetic-data.js';
import { concatFiles, embedShard, fitClass, mergeShardStats, scoreShard } from '../../pipelines/jobs.js';
import { openFlowScorer } from '../../src/models/flow-scorer.js';
import { initBackend } from '../../src/models/backend.js';
import { loadClassFlows, loadFlowBank, loadResNet } from '../../src/models/save.js';
import { RunningStats } from '../../src/stages/standardize.js';
import { FitSample, FitSampleFile, fitSampleRows } from '../../src/stages/fit-sample.js';
import { trainableClasses } from '../../src/io/work-files.js';
import { matrixRows, readMatrix } from '../../src/io/matrix-file.js';
import { cliBuilt, runCli, tempDir } from './fixture.js';

/**
 * The per-shard and per-class jobs give what the single-machine cleanse gives: the same
 * embedding cache, the same statistics (up to float64 rounding), bit-identical flows and
 * likelihoods, also with a fit sample (`--fit-rows-per-class`).
 */
describe.skipIf(!cliBuilt())('cleanse as per-shard and per-class jobs', () => {
  let root: string;
  let run: string;
  const shards = () => [0, 1].map((k) => join(root, 'data', `part-0000${k}.parquet`));
  const source = { batchRows: 64, columns: { id: 'id', label: 'label', image: 'image' }, imageSize: 32, retries: 0, concurrency: 1, timeoutMs: 1000 };

  beforeAll(async () => {
    root = await tempDir('jobs');
    await writeSyntheticDataset(join(root, 'data'), { rows: 500, seed: 4, partRows: 250 });
    expect((await runCli(['pretrain', join(root, 'data'), '--out', join(root, 'enc'), '--epochs', '1', '--width', '4', '--batch', '64'])).code).toBe(0);
    run = join(root, 'run');
    const r = await runCli(['cleanse', join(root, 'data'), '--encoder', join(root, 'enc', 'encoder'), '--embed-runtime', 'tfjs', '--flow-epochs', '3', '--seed', '5', '--batch-rows', '64', '--keep-work', '--out', run]);
    expect(r.code, r.stderr).toBe(0);
    await initBackend('auto');
  }, 300_000);

  it('embeds shards, merges their statistics, fits each class alone and scores shards like one machine', async () => {
    const state = JSON.parse(await readFile(join(run, 'checkpoint', 'state.json'), 'utf8'));
    const encoder = await loadResNet(join(root, 'enc', 'encoder'));
    const manifests = [];
    for (const [k, shard] of shards().entries()) manifests.push(await embedShard(shard, encoder, source, join(root, `shard-${k}`)));
    encoder.dispose();
    expect(manifests.map((m) => m.rows)).toEqual([250, 250]);

    await concatFiles(manifests.map((m) => m.cache), join(root, 'all.f32'));
    expect((await readFile(join(root, 'all.f32'))).equals(await readFile(join(run, 'work', 'embeddings.f32')))).toBe(true);

    const merged = mergeShardStats(manifests);
    expect(merged.rows).toBe(500);
    expect(merged.labelCounts).toEqual(state.embed.labelCounts);
    merged.stats.mean.forEach((m, j) => expect(m).toBeCloseTo(state.embed.stats.mean[j], 9));
    merged.stats.std().forEach((s, j) => expect(s / RunningStats.fromJSON(state.embed.stats).std()[j]).toBeCloseTo(1, 9));

    const stats = RunningStats.fromJSON(state.embed.stats);
    const K = state.numClasses;
    const dirs: string[] = [];
    for (let c = 0; c < K; c++) {
      dirs.push(join(root, `flow-${c}`));
      await fitClass({ cache: join(root, 'all.f32'), featureDim: state.featureDim, rows: 500, numClasses: K, label: c, stats, epochs: 3, batch: 16, lr: 1e-3, seed: 5, out: dirs[c] });
    }
    const jobs = await loadClassFlows(dirs);
    const single = await loadFlowBank(join(run, 'checkpoint', 'flows-e3'));
    for (let c = 0; c < K; c++) expect(Buffer.from(jobs.flow(c).getState().params.buffer).equals(Buffer.from(single.flow(c).getState().params.buffer)), `flow ${c}`).toBe(true);

    const trainable = new Array(K).fill(true);
    // the scoring runtime the cleanse recorded (ONNX Runtime unless it failed to load)
    const scorer = await openFlowScorer(jobs, state.scoreRuntime === 'tfjs' ? 'tfjs' : 'onnx');
    expect(scorer.runtime).toBe(state.scoreRuntime);
    for (const [k, m] of manifests.entries()) await scoreShard(m.cache, state.featureDim, scorer, stats, trainable, join(root, `shard-${k}.loglik`));
    await scorer.close();
    await concatFiles([0, 1].map((k) => join(root, `shard-${k}.loglik.f32`)), join(root, 'all.loglik.f32'));
    expect((await readFile(join(root, 'all.loglik.f32'))).equals(await readFile(join(run, 'work', 'likelihood.f32')))).toBe(true);
    jobs.dispose();
    single.dispose();
  }, 300_000);

  it('with --fit-rows-per-class, the merge pass writes the sample file the local fit pass wrote and each class alone fits the flow of the local run on it', async () => {
    const sampled = join(root, 'run-sampled');
    const r = await runCli(['cleanse', join(root, 'data'), '--encoder', join(root, 'enc', 'encoder'), '--embed-runtime', 'tfjs', '--flow-epochs', '2', '--seed', '5', '--batch-rows', '64', '--fit-rows-per-class', '15', '--keep-work', '--out', sampled]);
    expect(r.code, r.stderr).toBe(0);
    const state = JSON.parse(await readFile(join(sampled, 'checkpoint', 'state.json'), 'utf8'));
    const K = state.numClasses;
    const cache = join(sampled, 'work', 'embeddings.f32');
    // the merge job's sample file: written chunk by chunk while the cache is read for the statistics
    const sample = new FitSample(15, state.embed.labelCounts, 5);
    const trainable = trainableClasses(state.embed.labelCounts, K);
    const file = await FitSampleFile.open(join(root, 'fit-sample.f32'), state.featureDim, sample, trainable);
    for await (const chunk of readMatrix(cache, state.featureDim + 1, { chunkRows: 4096 })) await file.add(chunk.rows, chunk.n, chunk.start);
    const counts = await file.finish();
    expect(counts).toEqual(state.fit.rowsFitted);
    const rows = fitSampleRows(counts, trainable);
    expect(rows).toBeLessThan(500 / 2);
    expect((await readFile(join(root, 'fit-sample.f32'))).equals(await readFile(join(sampled, 'work', 'fit-sample.f32')))).toBe(true);
    expect(await matrixRows(join(root, 'fit-sample.f32'), state.featureDim + 1)).toBe(rows);
    const stats = RunningStats.fromJSON(state.embed.stats);
    const dirs: string[] = [];
    for (let c = 0; c < K; c++) {
      dirs.push(join(root, `sampled-flow-${c}`));
      await fitClass({ cache: join(root, 'fit-sample.f32'), featureDim: state.featureDim, rows, numClasses: K, label: c, stats, epochs: 2, batch: 16, lr: 1e-3, seed: 5, out: dirs[c] });
    }
    const jobs = await loadClassFlows(dirs);
    const single = await loadFlowBank(join(sampled, 'checkpoint', 'flows-e2'));
    const unsampled = await loadFlowBank(join(run, 'checkpoint', 'flows-e3'));
    for (let c = 0; c < K; c++) {
      const params = Buffer.from(jobs.flow(c).getState().params.buffer);
      expect(params.equals(Buffer.from(single.flow(c).getState().params.buffer)), `flow ${c}`).toBe(true);
      expect(params.equals(Buffer.from(unsampled.flow(c).getState().params.buffer)), `flow ${c} (fitted on every row)`).toBe(false);
    }
    jobs.dispose();
    single.dispose();
    unsampled.dispose();
  }, 300_000);
});

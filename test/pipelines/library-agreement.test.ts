import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipe } from 'it-pipe';
import { initBackend } from '../../src/models/backend.js';
import { ResNet } from '../../src/models/resnet.js';
import { loadFlowBank, loadResNet, saveResNet } from '../../src/models/save.js';
import { readBatches } from '../../src/io/read.js';
import { resolveInputs } from '../../src/io/inputs.js';
import { readMatrix } from '../../src/io/matrix-file.js';
import { likelihoodColumns, trainableClasses, workFiles } from '../../src/io/work-files.js';
import { decode } from '../../src/stages/decode.js';
import { embed } from '../../src/stages/embed.js';
import { score, LIKELIHOOD_COLUMN, NO_FLOW_LOGLIK } from '../../src/stages/score.js';
import { RunningStats } from '../../src/stages/standardize.js';
import { writeSyntheticDataset } from '../../pipelines/synthetic-data.js';
import type { CleanseState } from '../../pipelines/cleanse/state.js';
import { cliBuilt, runCli, tempDir } from './fixture.js';

/**
 * The library a user composes with it-pipe is the code the CLI runs: the README's library
 * example (readBatches -> decode -> embed with a loaded encoder), followed by the score stage
 * with the run's flows and statistics, gives every row the log-likelihoods `gssd cleanse` wrote
 * to its likelihood file, and the `gssd_loglik` of its output rows.
 */
describe.skipIf(!cliBuilt())('the README library pipeline and the CLI', () => {
  it('give the same scores on the same rows', async () => {
    const root = await tempDir('library');
    const data = join(root, 'data');
    await writeSyntheticDataset(data, { rows: 60, seed: 5 });
    await initBackend('auto');
    const net = new ResNet({ width: 4, imageSize: 32, seed: 1 });
    await saveResNet(net, join(root, 'enc'));
    net.dispose();
    const out = join(root, 'run');
    // both embed on TF.js (the README loads the encoder with loadResNet) and score with the
    // default runtime; --num-classes 11 leaves class 10 without a flow (the floor value)
    const r = await runCli(['cleanse', data, '--encoder', join(root, 'enc'), '--embed-runtime', 'tfjs', '--num-classes', '11', '--flow-epochs', '1', '--seed', '3', '--keep-work', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const state = JSON.parse(await readFile(join(out, 'checkpoint', 'state.json'), 'utf8')) as CleanseState;
    const K = state.numClasses!;
    expect(K).toBe(11);

    // the README's example, then the score stage
    const encoder = await loadResNet(join(root, 'enc'));
    const flows = await loadFlowBank(join(out, 'checkpoint', 'flows-e1'));
    const stats = RunningStats.fromJSON(state.embed.stats!);
    const trainable = trainableClasses(state.embed.labelCounts, K);
    const stream = pipe(
      readBatches(await resolveInputs([data]), { batchRows: 512 }),
      (batches) => decode(batches, { imageSize: encoder.imageSize }),
      (batches) => embed(batches, { encoder }),
      (batches) => score(batches, { flows, stats, trainable }),
    );
    const library: Float32Array[] = [];
    const labels: number[] = [];
    for await (const batch of stream) {
      const L = batch.getChild(LIKELIHOOD_COLUMN)!;
      for (let i = 0; i < batch.numRows; i++) {
        library.push(L.get(i)!.toArray() as Float32Array);
        labels.push(batch.getChild('label')!.get(i) as number);
      }
    }
    encoder.dispose();
    flows.dispose();

    // against the CLI's likelihood file, row by row
    const cols = likelihoodColumns(K);
    const cli: Float32Array[] = [];
    for await (const chunk of readMatrix(workFiles(out).likelihood, cols)) {
      for (let i = 0; i < chunk.n; i++) cli.push(chunk.rows.slice(i * cols, i * cols + K));
    }
    expect(cli).toHaveLength(60);
    expect(library).toHaveLength(60);
    let maxDiff = 0;
    for (let i = 0; i < 60; i++) {
      expect(library[i][10]).toBe(Math.fround(NO_FLOW_LOGLIK));
      for (let c = 0; c < K; c++) maxDiff = Math.max(maxDiff, Math.abs(library[i][c] - cli[i][c]));
    }
    expect(maxDiff).toBe(0);

    // and against the output rows' own-class log-likelihood
    const ownByRow = new Map<number, number>();
    for (const split of ['clean', 'poisoned', 'uncertain']) {
      for await (const b of readBatches(await resolveInputs([join(out, split)]))) {
        for (let i = 0; i < b.numRows; i++) {
          const v = b.getChild('gssd_loglik')!.get(i) as number | null;
          if (v !== null) ownByRow.set(Number(b.getChild('id')!.get(i)), v);
        }
      }
    }
    expect(ownByRow.size).toBe(60);
    for (const [row, v] of ownByRow) expect(v).toBe(library[row][labels[row]]);
  }, 120_000);
});

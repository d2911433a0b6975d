import { describe, expect, it } from 'vitest';
import { pipe } from 'it-pipe';
import { join } from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { initBackend } from '../../src/models/backend.js';
import { ResNet } from '../../src/models/resnet.js';
import { FlowBank } from '../../src/models/flow-bank.js';
import { readBatches } from '../../src/io/read.js';
import { resolveInputs } from '../../src/io/inputs.js';
import { decode } from '../../src/stages/decode.js';
import { embed, EMBEDDING_COLUMN } from '../../src/stages/embed.js';
import { score, LIKELIHOOD_COLUMN, PREDICTION_COLUMN } from '../../src/stages/score.js';
import { RunningStats } from '../../src/stages/standardize.js';
import { writeSyntheticDataset } from '../../pipelines/synthetic-data.js';

describe('score stage', () => {
  it('composes with decode and embed in an it-pipe and adds every class likelihood and the prediction', async () => {
    await initBackend('auto');
    const dir = join(await mkdtemp(join(tmpdir(), 'gssd-score-')), 'data');
    await writeSyntheticDataset(dir, { rows: 40, seed: 2 });
    const encoder = new ResNet({ width: 4, imageSize: 32, seed: 1 });
    const flows = new FlowBank({ numClasses: 10, dim: encoder.featureDim, seed: 3 });
    const stats = new RunningStats(encoder.featureDim);
    const inputs = await resolveInputs([dir]);
    // the statistics and a few flow steps from the same stream
    for await (const b of pipe(readBatches(inputs), (s) => decode(s), (s) => embed(s, { encoder }))) {
      const h = b.getChild(EMBEDDING_COLUMN)!;
      for (let i = 0; i < b.numRows; i++) stats.addRows(h.get(i)!.toArray() as Float32Array, 1);
    }
    let rows = 0;
    for await (const b of pipe(readBatches(inputs, { batchRows: 16 }), (s) => decode(s), (s) => embed(s, { encoder }), (s) => score(s, { flows, stats }))) {
      const L = b.getChild(LIKELIHOOD_COLUMN)!;
      const pred = b.getChild(PREDICTION_COLUMN)!;
      for (let i = 0; i < b.numRows; i++) {
        const row = Array.from(L.get(i)!.toArray() as Float32Array);
        expect(row).toHaveLength(10);
        for (const v of row) expect(Number.isFinite(v)).toBe(true);
        expect(pred.get(i)).toBe(row.indexOf(Math.max(...row)));
      }
      rows += b.numRows;
    }
    expect(rows).toBe(40);
    encoder.dispose();
    flows.dispose();
  });
});

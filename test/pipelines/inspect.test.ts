import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { inspect } from '../../pipelines/inspect.js';
import { PartSink, partName } from '../../src/io/part-sink.js';
import { readBatches } from '../../src/io/read.js';
import { tempDir, writeSmallDataset } from '../io/helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir()));
afterAll(() => cleanup());

describe('inspect', () => {
  it('counts rows and labels per input and in total, and lists the columns of a zero-row part from its footer', async () => {
    const full = writeSmallDataset(join(dir, 'full.parquet'), 25, { rowGroupSize: 10 });
    let schema;
    for await (const b of readBatches([full], { batchRows: 5 })) schema ??= b.schema;
    const sink = await PartSink.open(join(dir, 'empty'));
    await sink.commitEmptyIfNone(schema!);
    await sink.close();
    const empty = join(dir, 'empty', partName(0));
    const { inputs, total } = await inspect([full, empty]);
    const expected = [
      { name: 'id', type: 'Int64' },
      { name: 'label', type: 'Int32' },
      { name: 'image', type: 'Binary' },
    ];
    expect(inputs[0]).toMatchObject({ rows: 25, columns: expected, labels: { 0: 3, 1: 3, 4: 3, 5: 2, 9: 2 } });
    expect(inputs[0].sampledImages).toBe(25);
    expect(inputs[0].imageFormats).toEqual({ jpeg: 25 });
    expect(inputs[1]).toMatchObject({ rows: 0, columns: expected, labels: {} });
    expect(total).toMatchObject({ rows: 25, columns: expected });
    expect(Object.values(total.labels).reduce((a, b) => a + b, 0)).toBe(25);
  });

  it('lists the synthetic id first for a zero-row file without one', async () => {
    const noId = writeSmallDataset(join(dir, 'noid.parquet'), 0, { withId: false });
    const { inputs } = await inspect([noId]);
    expect(inputs[0].columns.map((c) => c.name)).toEqual(['id', 'label', 'image']);
  });
});

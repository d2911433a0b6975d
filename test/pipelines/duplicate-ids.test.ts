import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { initBackend } from '../../src/models/backend.js';
import { ResNet } from '../../src/models/resnet.js';
import { saveResNet } from '../../src/models/save.js';
import { makeJpeg, tempDir, writeSmallDataset } from '../io/helpers.js';
import { cliBuilt, readOutput, runCli } from './fixture.js';

let dir: string;
let cleanup: () => Promise<void>;
let inputs: string[];
let encoder: string;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  // two shards whose ids overlap: 150..199 appear in both
  const images = Array.from({ length: 200 }, (_, i) => makeJpeg(8, 8, i));
  inputs = [
    writeSmallDataset(join(dir, 'a.parquet'), 200, { images }),
    writeSmallDataset(join(dir, 'b.parquet'), 200, { images, idBase: 150 }),
  ];
  await initBackend('cpu');
  encoder = join(dir, 'encoder');
  const net = new ResNet({ width: 2, imageSize: 32, seed: 1 });
  await saveResNet(net, encoder);
  net.dispose();
});
afterAll(() => cleanup());

describe.skipIf(!cliBuilt())('cleanse with duplicate ids', () => {
  it('warns on stderr and in the report by default, keeping every row', async () => {
    const out = join(dir, 'warn');
    const r = await runCli(['cleanse', ...inputs, '--encoder', encoder, '--flow-epochs', '1', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('warning: duplicate ids rows=50 ids=50 examples=150,151,152,153,154');
    expect(r.stdout).toContain('warning: 50 rows repeat the id of an earlier row (50 ids, e.g. 150, 151, 152, 153, 154); kept');
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
    expect(report.duplicateIds).toEqual({ rows: 50, ids: 50, examples: ['150', '151', '152', '153', '154'] });
    expect((await readOutput(out)).length).toBe(400);
  });

  it('--on-duplicate-id error: an input error in one line, exit code 2', async () => {
    const r = await runCli(['cleanse', ...inputs, '--encoder', encoder, '--out', join(dir, 'error'), '--on-duplicate-id', 'error', '--log', 'silent']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`gssd cleanse: ${inputs[0]} (and others): 50 rows repeat the id of an earlier row (50 ids, e.g. 150, 151, 152, 153, 154); ids must be unique (column "id")\n`);
  });
});

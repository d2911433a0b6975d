import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanse } from '../../pipelines/cleanse.js';
import { pretrain } from '../../pipelines/pretrain-run.js';
import { writeSyntheticDataset } from '../../pipelines/synthetic-data.js';
import { createLogger, type Logger } from '../../src/log.js';
import { readOutput, tempDir } from './fixture.js';

/** A silent logger that aborts `controller` at the first event `event` (a deterministic point of the run). */
function abortAt(controller: AbortController, event: string): Logger {
  const log = createLogger({ format: 'silent' });
  return { ...log, info: (e, f) => (e === event && controller.abort(new Error(`aborted at ${event}`)), log.info(e, f)) };
}

async function filesOf(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const name of (await readdir(dir)).sort()) out.set(name, await readFile(join(dir, name)));
  return out;
}

/**
 * `pretrain()` and `cleanse()` stop on an AbortSignal with what they committed intact, and
 * `resume: true` then gives the output of a run that was never stopped.
 */
describe('AbortSignal in pretrain() and cleanse()', () => {
  let root: string;
  let data: string;
  const base = () => ({ inputs: [data], epochs: 1, width: 4, batch: 64, checkpointSteps: 1, shuffleBuffer: 128, threads: 1 });

  beforeAll(async () => {
    root = await tempDir('abort');
    data = join(root, 'data');
    await writeSyntheticDataset(data, { rows: 200, seed: 5 });
  });

  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('pretrain: aborted after its first step, resumed: the same encoder as one run', async () => {
    const { encoder: once } = await pretrain({ ...base(), out: join(root, 'enc-once') });
    const controller = new AbortController();
    const stopped = pretrain({ ...base(), out: join(root, 'enc-stopped'), signal: controller.signal }, abortAt(controller, 'pretrain runtime'));
    await expect(stopped).rejects.toThrow('aborted at pretrain runtime');
    const { encoder: resumed } = await pretrain({ ...base(), out: join(root, 'enc-stopped'), resume: true });
    expect(await filesOf(resumed)).toEqual(await filesOf(once));
  }, 120_000);

  it('cleanse: aborted during the flow fit, resumed: the same rows and verdicts as one run', async () => {
    const encoder = join(root, 'enc-once', 'encoder');
    const options = { inputs: [data], encoder, flowEpochs: 3, checkpointRows: 100, partRows: 120, source: { batchRows: 50 } };
    await cleanse({ ...options, out: join(root, 'run-once') });
    const controller = new AbortController();
    const stopped = cleanse({ ...options, out: join(root, 'run-stopped'), signal: controller.signal }, abortAt(controller, 'fit epoch'));
    await expect(stopped).rejects.toThrow('aborted at fit epoch');
    await expect(readdir(join(root, 'run-stopped', 'clean'))).rejects.toThrow();
    const report = await cleanse({ ...options, out: join(root, 'run-stopped'), resume: true });
    expect(report.rows).toBe(200);
    expect(await readOutput(join(root, 'run-stopped'))).toEqual(await readOutput(join(root, 'run-once')));
  }, 120_000);
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../../src/errors.js';
import { OnnxEncoder } from '../../src/models/onnx-encoder.js';
import { encodeOnnxModel, ONNX_FLOAT } from '../../src/models/onnx-model.js';
import { ProtoWriter } from '../../src/models/onnx-proto.js';
import { Rng } from '../../src/rng.js';
import { tempDir, writeSmallDataset } from '../io/helpers.js';
import { cliBuilt, runCli } from '../pipelines/fixture.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir()));
afterAll(() => cleanup());

/** A float NCHW model of 4x4 images: channel means ([N, 3]), or the input itself ([N, 3, 4, 4]) with `flat: false`. */
function model(opts: { flat?: boolean; metadata?: Record<string, string> } = {}): Uint8Array {
  const flat = opts.flat ?? true;
  return encodeOnnxModel({
    graphName: 'tiny',
    opset: 17,
    inputs: [{ name: 'x', elemType: ONNX_FLOAT, shape: ['N', 3, 4, 4] }],
    outputs: [{ name: 'y', elemType: ONNX_FLOAT, shape: flat ? ['N', 3] : ['N', 3, 4, 4] }],
    nodes: flat
      ? [
          { op: 'GlobalAveragePool', inputs: ['x'], outputs: ['p'] },
          { op: 'Flatten', inputs: ['p'], outputs: ['y'], attributes: { axis: 1 } },
        ]
      : [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
    initializers: [],
    metadata: opts.metadata,
  });
}

async function failure(file: string): Promise<string> {
  const err = await OnnxEncoder.load(file, { provider: 'cpu', intraOpThreads: 1 }).then(
    async (enc) => (await enc.close(), null),
    (e: Error) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  expect(err!.message).not.toContain('\n');
  expect(err!.message.startsWith(`${file}: `)).toBe(true);
  return err!.message;
}

describe('bad ONNX encoder files', () => {
  it('a good one loads (the control)', async () => {
    const file = join(dir, 'good.onnx');
    await writeFile(file, model());
    const enc = await OnnxEncoder.load(file, { provider: 'cpu', intraOpThreads: 1 });
    expect(enc.featureDim).toBe(3);
    await enc.close();
  });

  it('garbage, a missing file, external data, bad gssd_* metadata, a 4-D output: InputErrors naming the file', async () => {
    const garbage = join(dir, 'garbage.onnx');
    const rng = new Rng(7);
    await writeFile(garbage, Uint8Array.from({ length: 4096 }, () => Math.floor(rng.next() * 256)));
    expect(await failure(garbage)).toMatch(/onnxruntime cannot load the model/);

    expect(await failure(join(dir, 'missing.onnx'))).toMatch(/cannot read the ONNX model/);

    // a second graph field is merged into the first by protobuf readers: one initializer stored outside
    const external = join(dir, 'external.onnx');
    const tensor = new ProtoWriter()
      .packedVarints(1, [3])
      .varint(2, ONNX_FLOAT)
      .string(8, 'w')
      .message(13, new ProtoWriter().string(1, 'location').string(2, 'external.onnx.data'))
      .varint(14, 1);
    const extra = new ProtoWriter().message(7, new ProtoWriter().message(5, tensor)).finish();
    await writeFile(external, Buffer.concat([model(), extra]));
    expect(await failure(external)).toBe(
      `${external}: initializer w keeps its data in a separate file (ONNX external data); give gssd one self-contained .onnx with the weights inside`,
    );

    const badMeta = join(dir, 'bad-meta.onnx');
    await writeFile(badMeta, model({ metadata: { gssd_image_size: 'big' } }));
    expect(await failure(badMeta)).toMatch(/ONNX metadata gssd_image_size: expected an integer from 1 and up, got `big`/);

    const fourD = join(dir, 'four-d.onnx');
    await writeFile(fourD, model({ flat: false }));
    expect(await failure(fourD)).toBe(
      `${fourD}: output y has shape [N,3,4,4], expected 2 dimensions (images x features); flatten or pool it in the model`,
    );
  });

  it.skipIf(!cliBuilt())('the CLI answers a bad --encoder with one line and exit code 2', async () => {
    const data = writeSmallDataset(join(dir, 'data.parquet'), 20);
    const garbage = join(dir, 'cli-garbage.onnx');
    await writeFile(garbage, 'not a model at all');
    const r = await runCli(['cleanse', data, '--encoder', garbage, '--out', join(dir, 'run1'), '--log', 'silent']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`gssd cleanse: ${garbage}: onnxruntime cannot load the model (Failed to load model because protobuf parsing failed.)\n`);
  });
});

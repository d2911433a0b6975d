import { choiceOpt, stringOpt, switchOpt } from './option.js';
import { backendOpt } from './engine-options.js';
import { UsageError } from '../errors.js';
import { defineCommand } from './command.js';

const encoder = stringOpt('encoder', 'DIR', 'a saved gssd encoder: DIR/encoder of gssd pretrain, or that run directory');
const model = stringOpt(
  'model',
  'DIR',
  'or a gssd train model (DIR/model, or that run directory): its ResNet backbone\nwithout the classification head, a supervised encoder for\ngssd cleanse --encoder FILE.onnx',
);
const out = stringOpt('out', 'FILE', 'the .onnx file to write (required)', { required: true });
const inputLayout = choiceOpt(
  'input-layout',
  'L',
  "nhwc255: float [N, S, S, 3] pixel values 0..255, normalised inside the graph\n(default); nchw: float [N, 3, S, S] already normalised (PyTorch's convention)",
  ['nhwc255', 'nchw'] as const,
  { default: 'nhwc255', hideDefault: true },
);
const backend = backendOpt('auto, tensorflow, wasm or cpu (reads the weights)', { hideDefault: true });
const json = switchOpt('json', 'print what was written as JSON');

export const exportOnnxCommand = defineCommand({
  name: 'export-onnx',
  summary: "Write a gssd encoder, or a gssd train model's backbone, as an ONNX model (BatchNorm folded) for ONNX Runtime",
  usage: 'Usage: gssd export-onnx --encoder DIR|--model DIR --out FILE.onnx [--input-layout nhwc255|nchw] [--json]',
  about: `Writes the encoder's inference graph (Conv with BatchNorm folded, ReLU, Add, pooling) with the
gssd_* metadata (image size, normalisation, input layout), so that \`gssd cleanse --encoder FILE.onnx\`
or any ONNX Runtime program can run it. The file is written atomically.`,
  options: [encoder, model, out, inputLayout, backend, json],
  async run(values, positionals, log) {
    const { exportOnnx } = await import('../../pipelines/export-onnx.js');
    if (positionals.length) throw new UsageError(`Unexpected argument \`${positionals[0]}\`: give the model with --encoder or --model`);
    if ((encoder.read(values) === undefined) === (model.read(values) === undefined)) throw new UsageError('Give the model to export with --encoder DIR (gssd pretrain) or --model DIR (gssd train), one of them');
    const file = out.read(values);
    if (!file.endsWith('.onnx')) throw new UsageError(`Expected \`--out\` to end with .onnx, got \`${file}\``);
    const result = await exportOnnx(
      { encoder: encoder.read(values), model: model.read(values), out: file, inputLayout: inputLayout.read(values), backend: backend.read(values) },
      log,
    );
    process.stdout.write(
      json.read(values)
        ? JSON.stringify(result) + '\n'
        : `wrote ${result.out}: ${result.source}, ${(result.bytes / 1e6).toFixed(1)} MB, ResNet-18 width ${result.width}, ${result.imageSize}-px ${result.inputLayout} input, ${result.featureDim}-d output\n`,
    );
  },
});

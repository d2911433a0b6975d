import { backendOption, enumOption, stringOption } from './options.js';
import { UsageError } from '../errors.js';
import type { Command } from './command.js';

export const exportOnnxCommand: Command = {
  name: 'export-onnx',
  summary: 'Write a gssd encoder, or a gssd train model\'s backbone, as an ONNX model (BatchNorm folded) for ONNX Runtime',
  usage: 'Usage: gssd export-onnx --encoder DIR|--model DIR --out FILE.onnx [--input-layout nhwc255|nchw] [--json]',
  help: `Writes the encoder's inference graph (Conv with BatchNorm folded, ReLU, Add, pooling) with the
gssd_* metadata (image size, normalisation, input layout), so that \`gssd cleanse --encoder FILE.onnx\`
or any ONNX Runtime program can run it. The file is written atomically.

  --encoder DIR            a saved gssd encoder: DIR/encoder of gssd pretrain, or that run directory
  --model DIR              or a gssd train model (DIR/model, or that run directory): its ResNet backbone
                           without the classification head, a supervised encoder for
                           gssd cleanse --encoder FILE.onnx
  --out FILE               the .onnx file to write (required)
  --input-layout L         nhwc255: float [N, S, S, 3] pixel values 0..255, normalised inside the graph
                           (default); nchw: float [N, 3, S, S] already normalised (PyTorch's convention)
  --backend B              auto, tensorflow, wasm or cpu (reads the weights)
  --json                   print what was written as JSON`,
  options: {
    encoder: { type: 'string' },
    model: { type: 'string' },
    out: { type: 'string' },
    'input-layout': { type: 'string' },
    backend: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(values, positionals, log) {
    const { exportOnnx } = await import('../../pipelines/export-onnx.js');
    const v = (k: string) => values[k] as string | undefined;
    if (positionals.length) throw new UsageError(`Unexpected argument \`${positionals[0]}\`: give the model with --encoder or --model`);
    if ((v('encoder') === undefined) === (v('model') === undefined)) throw new UsageError('Give the model to export with --encoder DIR (gssd pretrain) or --model DIR (gssd train), one of them');
    const out = stringOption(v('out'), '--out');
    if (!out.endsWith('.onnx')) throw new UsageError(`Expected \`--out\` to end with .onnx, got \`${out}\``);
    const result = await exportOnnx(
      {
        encoder: v('encoder'),
        model: v('model'),
        out,
        inputLayout: enumOption(v('input-layout'), '--input-layout', ['nhwc255', 'nchw'] as const, 'nhwc255'),
        backend: backendOption(v('backend')),
      },
      log,
    );
    process.stdout.write(
      values.json
        ? JSON.stringify(result) + '\n'
        : `wrote ${result.out}: ${result.source}, ${(result.bytes / 1e6).toFixed(1)} MB, ResNet-18 width ${result.width}, ${result.imageSize}-px ${result.inputLayout} input, ${result.featureDim}-d output\n`,
    );
  },
};

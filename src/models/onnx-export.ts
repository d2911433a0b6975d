/**
 * Writes a gssd ResNet as an ONNX model for onnxruntime: the inference program of
 * `ResNet.evalPlan()` (BatchNorm already folded into each convolution,
 * W' = W * gamma / sqrt(var + eps), b' = beta - mean * gamma / sqrt(var + eps), computed by
 * TensorFlow.js exactly as `embed` uses it) as Conv (+ Relu), MaxPool, Add + Relu,
 * GlobalAveragePool and Flatten nodes, opset 17. By default the graph also holds the
 * normalisation and the NHWC -> NCHW transpose, so its input is the decoded pixels as floats.
 */
import { VERSION } from '../version.js';
import { CIFAR_MEAN, CIFAR_STD } from './normalize.js';
import type { EvalPlan } from './eval-plan.js';
import { encodeOnnxModel, ONNX_FLOAT, type OnnxInitializer, type OnnxNode } from './onnx-model.js';
import { checkChannels, formatEncoderMetadata, type OnnxInputLayout } from './onnx-metadata.js';
import type { ResNet } from './resnet.js';

/** Default-domain opset of the exported graph. */
export const EXPORT_OPSET = 17;
/** Input and output names of the exported graph. */
export const EXPORT_INPUT = 'pixels';
export const EXPORT_OUTPUT = 'h';

export interface OnnxExportOptions {
  /**
   * Input of the graph: `nhwc255` (default) float32 [N, S, S, 3] pixel values 0..255, the
   * normalisation and transpose inside the graph; `nchw` float32 [N, 3, S, S] already
   * normalised (the usual convention of models from PyTorch: what a user's model looks like).
   */
  inputLayout?: Extract<OnnxInputLayout, 'nhwc255' | 'nchw'>;
  /** Per-channel mean and std of the normalisation (0..1 scale). Default: CIFAR-10's. */
  mean?: readonly number[];
  std?: readonly number[];
  /** Write the gssd_* metadata_props (default true). */
  metadata?: boolean;
}

/**
 * The ONNX bytes of a ResNet's current weights (eval mode: BatchNorm running statistics).
 * Input `pixels` (see `inputLayout`), output `h` float32 [N, featureDim]; batch size free.
 * Needs a started TensorFlow.js backend (the weights are read from it).
 *
 * @example
 *   const net = await loadResNet('out/encoder');
 *   await writeFile('encoder.onnx', exportResNetToOnnx(net));
 *   const enc = await OnnxEncoder.load('encoder.onnx');   // image size, normalisation from metadata
 */
export function exportResNetToOnnx(net: ResNet, options: OnnxExportOptions = {}): Uint8Array {
  const inputLayout = options.inputLayout ?? 'nhwc255';
  if (inputLayout !== 'nhwc255' && inputLayout !== 'nchw') {
    throw new Error(`Expected \`inputLayout\` to be nhwc255 or nchw, got \`${String(inputLayout)}\``);
  }
  const mean = [...(options.mean ?? CIFAR_MEAN)];
  const std = [...(options.std ?? CIFAR_STD)];
  checkChannels('`mean`', mean);
  checkChannels('`std`', std, true);
  const S = net.imageSize;
  const nodes: OnnxNode[] = [];
  const initializers: OnnxInitializer[] = [];
  let x = EXPORT_INPUT;
  if (inputLayout === 'nhwc255') {
    // x * (1 / (255 std)) + (-mean / std), per channel on the last axis, then to NCHW
    initializers.push(
      { name: 'norm.scale', dims: [3], values: Float32Array.from(std, (s) => 1 / (255 * s)) },
      { name: 'norm.shift', dims: [3], values: Float32Array.from(mean, (m, c) => -m / std[c]) },
    );
    nodes.push(
      { op: 'Mul', inputs: [x, 'norm.scale'], outputs: ['norm.scaled'], name: 'norm.mul' },
      { op: 'Add', inputs: ['norm.scaled', 'norm.shift'], outputs: ['norm.nhwc'], name: 'norm.add' },
      { op: 'Transpose', inputs: ['norm.nhwc'], outputs: ['norm.nchw'], name: 'norm.transpose', attributes: { perm: [0, 3, 1, 2] } },
    );
    x = 'norm.nchw';
  }
  const h = planNodes(net.evalPlan(), x, nodes, initializers);
  nodes.push({ op: 'Flatten', inputs: [h], outputs: [EXPORT_OUTPUT], name: 'flatten', attributes: { axis: 1 } });
  return encodeOnnxModel({
    graphName: `gssd_resnet18_w${net.width}`,
    opset: EXPORT_OPSET,
    producer: 'gssd',
    producerVersion: VERSION,
    docString: `gssd ResNet-18 encoder, width ${net.width}, ${net.stem} stem, ${S}-px images, BatchNorm folded`,
    nodes,
    initializers,
    inputs: [{ name: EXPORT_INPUT, elemType: ONNX_FLOAT, shape: inputLayout === 'nhwc255' ? ['N', S, S, 3] : ['N', 3, S, S] }],
    outputs: [{ name: EXPORT_OUTPUT, elemType: ONNX_FLOAT, shape: ['N', net.featureDim] }],
    metadata: options.metadata === false ? undefined : formatEncoderMetadata({ imageSize: S, mean, std, inputLayout }),
  });
}

/**
 * Appends the nodes of an eval plan reading NCHW tensor `input`; returns the name of the
 * pooled [N, C, 1, 1] result.
 */
function planNodes(plan: EvalPlan, input: string, nodes: OnnxNode[], initializers: OnnxInitializer[]): string {
  const slot = (i: number): string => (i === 0 ? input : `t${i}`);
  let k = 0;
  for (const o of plan.ops) {
    const name = `op${k++}`;
    if (o.op === 'conv') {
      const [kh, kw, inC, outC] = plan.shapes[o.filter];
      initializers.push(
        { name: `${name}.weight`, dims: [outC, inC, kh, kw], values: hwioToOihw(plan.arrays[o.filter], kh, kw, inC, outC) },
        { name: `${name}.bias`, dims: [outC], values: plan.arrays[o.bias] },
      );
      const p = o.pad;
      const out = o.relu ? `${name}.conv` : slot(o.output);
      nodes.push({
        op: 'Conv',
        inputs: [slot(o.input), `${name}.weight`, `${name}.bias`],
        outputs: [out],
        name,
        attributes: { kernel_shape: [kh, kw], strides: [o.stride, o.stride], pads: [p, p, p, p], dilations: [1, 1], group: 1 },
      });
      if (o.relu) nodes.push({ op: 'Relu', inputs: [out], outputs: [slot(o.output)], name: `${name}.relu` });
    } else if (o.op === 'maxpool') {
      // padding never wins a max in ONNX MaxPool, as the -1e30 padding of runPlan
      nodes.push({ op: 'MaxPool', inputs: [slot(o.input)], outputs: [slot(o.output)], name, attributes: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] } });
    } else if (o.op === 'addRelu') {
      nodes.push(
        { op: 'Add', inputs: [slot(o.a), slot(o.b)], outputs: [`${name}.sum`], name },
        { op: 'Relu', inputs: [`${name}.sum`], outputs: [slot(o.output)], name: `${name}.relu` },
      );
    } else {
      nodes.push({ op: 'GlobalAveragePool', inputs: [slot(o.input)], outputs: [slot(o.output)], name });
    }
  }
  return slot(plan.result);
}

/** A [kh, kw, in, out] filter (TensorFlow) as [out, in, kh, kw] (ONNX). */
function hwioToOihw(w: Float32Array, kh: number, kw: number, inC: number, outC: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < inC; i++) {
        const src = ((y * kw + x) * inC + i) * outC;
        for (let o = 0; o < outC; o++) out[((o * inC + i) * kh + y) * kw + x] = w[src + o];
      }
    }
  }
  return out;
}

/**
 * An `ImageEncoder` on onnxruntime-node: a gssd ResNet exported by `exportResNetToOnnx`, or
 * a user's own ONNX model ("bring your own encoder"). The input description (image size,
 * normalisation, layout) comes from the options, else the model's gssd_* metadata_props,
 * else the model's input shape; the feature dimension from the output shape or a first run.
 *
 * Execution provider: CUDA when its provider library loads at run time, else the CPU with
 * one intra-op thread per core. onnxruntime-node runs a batch synchronously on the main
 * thread (its own thread pool underneath): the event loop waits meanwhile.
 */
import { InputError, UsageError, errorMessage, expectInteger } from '../errors.js';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type * as ort from 'onnxruntime-node';
import { onnxTensor } from './onnx-runtime.js';
import { CIFAR_MEAN, CIFAR_STD } from './normalize.js';
import type { ImageEncoder } from './image-encoder.js';
import { readOnnxMetadata } from './onnx-model.js';
import { readFields, WIRE_BYTES, WIRE_VARINT } from './onnx-proto.js';
import { checkChannels, INPUT_LAYOUTS, parseEncoderMetadata, type EncoderInputSpec, type OnnxInputLayout } from './onnx-metadata.js';
import { firstLine, openOnnxSession, type OnnxProviderRequest } from './onnx-session.js';

export type { OnnxProviderRequest } from './onnx-session.js';

export interface OnnxEncoderOptions {
  /** Side of the square input images. Default: metadata, else the model's static input shape. */
  imageSize?: number;
  /** Per-channel RGB mean / std on the 0..1 scale (normalised layouts). Default: metadata, else CIFAR-10's. */
  mean?: readonly number[];
  std?: readonly number[];
  /** Input layout. Default: metadata, else `nchw` or `nhwc` by where the 3 is in the input shape. */
  inputLayout?: OnnxInputLayout;
  /** CPU intra-op threads. Default: `os.availableParallelism()`. */
  intraOpThreads?: number;
  /** Images per session run. Default 256. */
  batchSize?: number;
  /** Execution provider. Default `auto`. */
  provider?: OnnxProviderRequest;
  /** Name of the output holding the features. Default: the model's first output. */
  outputName?: string;
}

/**
 * Embeds uint8 HWC images with an ONNX model.
 *
 * @example
 *   const enc = await OnnxEncoder.load('encoder.onnx');
 *   const h = await enc.embed(pixels, n);   // n x enc.featureDim
 *   console.log(enc.provider);              // 'cpu' or 'cuda'
 *   await enc.close();
 */
export class OnnxEncoder implements ImageEncoder {
  private input: Float32Array | Uint8Array = new Float32Array(0);

  private constructor(
    private readonly session: ort.InferenceSession,
    /** The execution provider the session runs on. */
    readonly provider: 'cuda' | 'cpu',
    readonly imageSize: number,
    readonly featureDim: number,
    /** The resolved input description. */
    readonly spec: EncoderInputSpec,
    private readonly inputName: string,
    private readonly inputType: 'float32' | 'uint8',
    private readonly outputName: string,
    readonly batchSize: number,
    /** CPU intra-op threads of the session. */
    readonly intraOpThreads: number,
  ) {}

  /**
   * Opens a model file (or its bytes) and prepares the session.
   *
   * @example
   *   const own = await OnnxEncoder.load('resnet50.onnx', { imageSize: 224, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], inputLayout: 'nchw' });
   */
  static async load(model: string | Uint8Array, options: OnnxEncoderOptions = {}): Promise<OnnxEncoder> {
    if (typeof model !== 'string') return OnnxEncoder.open(model, 'ONNX model', options);
    // a user's model file: anything wrong with it is bad input, one line naming the file
    try {
      const bytes = await readModelFile(model);
      const external = externalInitializer(bytes);
      if (external) {
        throw new InputError(
          `${model}: initializer ${external} keeps its data in a separate file (ONNX external data); give gssd one self-contained .onnx with the weights inside`,
        );
      }
      return await OnnxEncoder.open(bytes, model, options);
    } catch (err) {
      if (err instanceof InputError || err instanceof UsageError) throw err;
      const message = errorMessage(err).split('\n')[0];
      throw new InputError(message.startsWith(model) ? message : `${model}: ${message}`, { cause: err });
    }
  }

  private static async open(bytes: Uint8Array, where: string, options: OnnxEncoderOptions): Promise<OnnxEncoder> {
    const intraOpThreads = options.intraOpThreads ?? availableParallelism();
    const batchSize = options.batchSize ?? 256;
    expectInteger('intraOpThreads', intraOpThreads, 1);
    expectInteger('batchSize', batchSize, 1);
    const request = options.provider ?? 'auto';
    const { session, provider } = await openOnnxSession(bytes, request, intraOpThreads, where);
    try {
      const meta = parseEncoderMetadata(readOnnxMetadata(bytes));
      const inMeta = session.inputMetadata[0];
      if (!inMeta || session.inputNames.length !== 1) throw new Error(`${where}: expected a model with one input, it has ${session.inputNames.length}`);
      if (!inMeta.isTensor) throw new Error(`${where}: input ${inMeta.name} is not a tensor`);
      if (inMeta.type !== 'float32' && inMeta.type !== 'uint8') throw new Error(`${where}: input ${inMeta.name} is ${inMeta.type}, expected float32 or uint8`);
      const shape = inMeta.shape;
      if (shape.length !== 4) throw new Error(`${where}: input ${inMeta.name} has shape [${shape}], expected 4 dimensions (images)`);
      const inputLayout = options.inputLayout ?? meta.inputLayout ?? (shape[1] === 3 ? 'nchw' : shape[3] === 3 ? 'nhwc' : undefined);
      if (!inputLayout) throw new Error(`${where}: cannot tell the input layout from shape [${shape}]; pass \`inputLayout\``);
      if (!INPUT_LAYOUTS.includes(inputLayout)) throw new Error(`Expected \`inputLayout\` to be one of ${INPUT_LAYOUTS.join(', ')}, got \`${String(inputLayout)}\``);
      if (inMeta.type === 'uint8' && !inputLayout.endsWith('255')) throw new Error(`${where}: a uint8 input needs a 0..255 layout (nhwc255 or nchw255), got ${inputLayout}`);
      const nchw = inputLayout.startsWith('nchw');
      const side = nchw ? [shape[2], shape[3]] : [shape[1], shape[2]];
      const fromShape = typeof side[0] === 'number' && side[0] > 0 && side[0] === side[1] ? side[0] : undefined;
      const imageSize = options.imageSize ?? meta.imageSize ?? fromShape;
      if (imageSize === undefined) throw new Error(`${where}: the input shape [${shape}] does not fix the image size; pass \`imageSize\``);
      expectInteger('imageSize', imageSize, 1);
      if (fromShape !== undefined && imageSize !== fromShape) throw new Error(`${where}: the model takes ${fromShape}-px images (input shape [${shape}]), not ${imageSize}`);
      const mean = [...(options.mean ?? meta.mean ?? CIFAR_MEAN)];
      const std = [...(options.std ?? meta.std ?? CIFAR_STD)];
      checkChannels('`mean`', mean);
      checkChannels('`std`', std, true);
      const outputName = options.outputName ?? session.outputNames[0];
      if (!session.outputNames.includes(outputName)) throw new Error(`${where}: no output ${outputName} (outputs: ${session.outputNames.join(', ')})`);
      const spec: EncoderInputSpec = { imageSize, mean, std, inputLayout };
      const enc = new OnnxEncoder(session, provider, imageSize, 0, spec, inMeta.name, inMeta.type, outputName, batchSize, intraOpThreads);
      const outMeta = session.outputMetadata[session.outputNames.indexOf(outputName)];
      if (!outMeta?.isTensor) throw new Error(`${where}: output ${outputName} is not a tensor`);
      if (outMeta.shape.length !== 2) {
        throw new Error(`${where}: output ${outputName} has shape [${outMeta.shape}], expected 2 dimensions (images x features); flatten or pool it in the model`);
      }
      const dims = outMeta?.isTensor ? outMeta.shape.slice(1) : [];
      const staticDim = dims.length > 0 && dims.every((d) => typeof d === 'number' && d > 0) ? dims.reduce<number>((a, d) => a * (d as number), 1) : undefined;
      const featureDim = staticDim ?? (await enc.run(new Uint8Array(imageSize * imageSize * 3), 1)).length;
      return new OnnxEncoder(session, provider, imageSize, featureDim, spec, inMeta.name, inMeta.type, outputName, batchSize, intraOpThreads);
    } catch (err) {
      await session.release().catch(() => {});
      throw err;
    }
  }

  /**
   * Features of `n` uint8 HWC RGB images (imageSize x imageSize x 3 each, back to back):
   * n x featureDim float32, row-major, `batchSize` images per session run.
   *
   * @example
   *   const h = await enc.embed(pixels, 100);
   */
  async embed(pixels: Uint8Array, n: number): Promise<Float32Array> {
    const per = this.imageSize * this.imageSize * 3;
    if (pixels.length < n * per) throw new Error(`Expected ${n} images of ${this.imageSize}x${this.imageSize}x3 bytes, got ${pixels.length} bytes`);
    const out = new Float32Array(n * this.featureDim);
    for (let start = 0; start < n; start += this.batchSize) {
      const m = Math.min(this.batchSize, n - start);
      const h = await this.run(pixels.subarray(start * per, (start + m) * per), m);
      if (h.length !== m * this.featureDim) throw new Error(`ONNX output ${this.outputName}: ${h.length} values for ${m} images, expected ${m * this.featureDim}`);
      out.set(h, start * this.featureDim);
    }
    return out;
  }

  /** Releases the session. */
  async close(): Promise<void> {
    await this.session.release();
  }

  /** One session run on m images; the raw output values. */
  private async run(pixels: Uint8Array, m: number): Promise<Float32Array> {
    const S = this.imageSize;
    const layout = this.spec.inputLayout;
    const nchw = layout.startsWith('nchw');
    const dims = nchw ? [m, 3, S, S] : [m, S, S, 3];
    let tensor: ort.Tensor;
    if (this.inputType === 'uint8' && !nchw) {
      tensor = onnxTensor('uint8', pixels, dims);
    } else {
      const len = m * S * S * 3;
      if (this.input.length < len) this.input = this.inputType === 'uint8' ? new Uint8Array(len) : new Float32Array(len);
      const buf = this.input.subarray(0, len);
      fillInput(pixels, m, S, layout, this.spec.mean, this.spec.std, buf);
      tensor = this.inputType === 'uint8' ? onnxTensor('uint8', buf as Uint8Array, dims) : onnxTensor('float32', buf as Float32Array, dims);
    }
    const result = await this.session.run({ [this.inputName]: tensor }, [this.outputName]);
    const value = result[this.outputName] as ort.Tensor;
    if (value.type !== 'float32') throw new Error(`ONNX output ${this.outputName} is ${value.type}, expected float32`);
    return value.data as Float32Array;
  }
}

/**
 * Converts m uint8 HWC images into the model's input layout: transposed for `nchw*`,
 * normalised ((x / 255 - mean) / std) unless the layout is a 0..255 one.
 */
function fillInput(pixels: Uint8Array, m: number, S: number, layout: OnnxInputLayout, mean: number[], std: number[], out: Float32Array | Uint8Array): void {
  const raw = layout.endsWith('255');
  const a = raw ? [1, 1, 1] : std.map((s) => 1 / (255 * s));
  const b = raw ? [0, 0, 0] : mean.map((mu, c) => -mu / std[c]);
  const plane = S * S;
  if (!layout.startsWith('nchw')) {
    for (let i = 0; i < m * plane * 3; i += 3) {
      out[i] = pixels[i] * a[0] + b[0];
      out[i + 1] = pixels[i + 1] * a[1] + b[1];
      out[i + 2] = pixels[i + 2] * a[2] + b[2];
    }
    return;
  }
  for (let k = 0; k < m; k++) {
    const src = k * plane * 3;
    const r = k * plane * 3;
    const g = r + plane;
    const bl = g + plane;
    for (let p = 0; p < plane; p++) {
      out[r + p] = pixels[src + 3 * p] * a[0] + b[0];
      out[g + p] = pixels[src + 3 * p + 1] * a[1] + b[1];
      out[bl + p] = pixels[src + 3 * p + 2] * a[2] + b[2];
    }
  }
}

/**
 * The name of the first graph initializer whose data lives in an external file (ONNX
 * `data_location = EXTERNAL`), or null; null too when the bytes are not a parsable model
 * (onnxruntime reports those).
 */
function externalInitializer(bytes: Uint8Array): string | null {
  try {
    for (const graph of readFields(bytes)) {
      if (graph.field !== 7 || graph.wire !== WIRE_BYTES) continue; // ModelProto.graph
      for (const init of readFields(graph.value)) {
        if (init.field !== 5 || init.wire !== WIRE_BYTES) continue; // GraphProto.initializer
        let name = '';
        let external = false;
        for (const f of readFields(init.value)) {
          if (f.field === 8 && f.wire === WIRE_BYTES) name = new TextDecoder().decode(f.value); // TensorProto.name
          if (f.field === 14 && f.wire === WIRE_VARINT && f.value === 1) external = true; // data_location = EXTERNAL
        }
        if (external) return name || '(unnamed)';
      }
    }
  } catch {
    // not a parsable protobuf
  }
  return null;
}

async function readModelFile(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    throw new Error(`${path}: cannot read the ONNX model (${firstLine(err)})`, { cause: err });
  }
}

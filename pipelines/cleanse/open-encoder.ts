import { availableParallelism } from 'node:os';
import { UsageError } from '../../src/errors.js';
import { loadResNet } from '../../src/models/save.js';
import { EmbedPool } from '../../src/models/embed-pool.js';
import { OnnxEncoder } from '../../src/models/onnx-encoder.js';
import { exportResNetToOnnx } from '../../src/models/onnx-export.js';
import type { ResNet } from '../../src/models/resnet.js';
import type { ImageEncoder } from '../../src/stages/embed.js';
import type { RunContext } from './context.js';

/** Which runtime runs the encoder in the embed pass. */
export type EmbedRuntime = 'auto' | 'onnx' | 'tfjs';

export type ClosableEncoder = ImageEncoder & { close(): Promise<void> };

/**
 * The encoder of the run, ready for the embed pass: the user's `--encoder` (a gssd encoder
 * directory, or any `.onnx` image tower), or the one pretraining made. A gssd ResNet runs on
 * ONNX Runtime (exported with BatchNorm folded; CUDA when present, else all CPU cores) unless
 * `--embed-runtime tfjs`; on TF.js under wasm it runs on a pool of worker threads. The
 * runtime used is recorded in the checkpoint: a resumed run must embed with the same one.
 */
export async function openEncoder(ctx: RunContext): Promise<ClosableEncoder> {
  const { options, state } = ctx;
  const path = state.encoderDir!;
  let encoder: ClosableEncoder & { runtime: string };
  if (path.endsWith('.onnx')) {
    if (options.embedRuntime === 'tfjs') throw new UsageError(`${path} is an ONNX model: it runs with --embed-runtime onnx or auto`);
    encoder = onnxEncoder(await OnnxEncoder.load(path));
  } else {
    const net = await loadResNet(path);
    encoder = options.embedRuntime === 'tfjs' ? await tfjsEncoder(net, state.backend) : await onnxOrTfjs(net, options.embedRuntime, state.backend);
  }
  if (encoder.imageSize !== options.source.imageSize) {
    await encoder.close();
    throw new UsageError(`the encoder ${path} takes ${encoder.imageSize}-px images; pass --image-size ${encoder.imageSize}`);
  }
  if (state.embedRuntime && state.embedRuntime !== encoder.runtime) {
    await encoder.close();
    throw new UsageError(`${options.out}: the run embedded with ${state.embedRuntime}, this one would use ${encoder.runtime}; resume with the same --embed-runtime`);
  }
  state.embedRuntime = encoder.runtime;
  ctx.log.info('encoder', { runtime: encoder.runtime, featureDim: encoder.featureDim, imageSize: encoder.imageSize });
  return encoder;
}

async function onnxOrTfjs(net: ResNet, runtime: EmbedRuntime, backend: string): Promise<ClosableEncoder & { runtime: string }> {
  try {
    const onnx = onnxEncoder(await OnnxEncoder.load(exportResNetToOnnx(net)));
    net.dispose();
    return onnx;
  } catch (err) {
    if (runtime === 'onnx') throw err;
    return tfjsEncoder(net, backend);
  }
}

function onnxEncoder(enc: OnnxEncoder): ClosableEncoder & { runtime: string } {
  return {
    runtime: `onnx-${enc.provider}`,
    featureDim: enc.featureDim,
    imageSize: enc.imageSize,
    embed: (pixels, n) => enc.embed(pixels, n),
    close: async () => enc.close(),
  };
}

async function tfjsEncoder(net: ResNet, backend: string): Promise<ClosableEncoder & { runtime: string }> {
  if (backend === 'wasm' && availableParallelism() > 1) {
    const pool = await EmbedPool.create(net);
    return {
      runtime: `tfjs-${backend}`,
      featureDim: pool.featureDim,
      imageSize: pool.imageSize,
      embed: (pixels, n) => pool.embed(pixels, n),
      close: async () => {
        await pool.close();
        net.dispose();
      },
    };
  }
  return { runtime: `tfjs-${backend}`, featureDim: net.featureDim, imageSize: net.imageSize, embed: (pixels, n) => net.embed(pixels, n), close: async () => net.dispose() };
}

/**
 * The trivial rungs of the encoder ladder (bench/efficacy.ts) as ONNX image towers that
 * `gssd cleanse --encoder FILE.onnx` takes like any user's model: raw pixels, and an
 * untrained (seeded) ResNet-18.
 */
import { writeFile } from 'node:fs/promises';
import { initBackend } from '../../src/models/backend.js';
import { encodeOnnxModel, ONNX_FLOAT } from '../../src/models/onnx-model.js';
import { formatEncoderMetadata } from '../../src/models/onnx-metadata.js';
import { exportResNetToOnnx } from '../../src/models/onnx-export.js';
import { ResNet } from '../../src/models/resnet.js';

/**
 * Writes a "raw pixels" encoder: the 0..1 RGB image average-pooled `pool` x `pool` and
 * flattened (32-px images, pool 4: 3 x 8 x 8 = 192 features). The cleanse standardises every
 * feature before the flows, so this is the "downsampled, standardised pixels".
 *
 * @example
 *   await writePixelsEncoder('pixels.onnx', 32, 4);   // then gssd cleanse ... --encoder pixels.onnx
 */
export async function writePixelsEncoder(file: string, imageSize: number, pool: number): Promise<number> {
  if (imageSize % pool !== 0) throw new Error(`pool ${pool} does not divide image size ${imageSize}`);
  const side = imageSize / pool;
  const dim = 3 * side * side;
  const bytes = encodeOnnxModel({
    graphName: 'gssd_pixels',
    nodes: [
      { op: 'AveragePool', inputs: ['pixels'], outputs: ['pooled'], attributes: { kernel_shape: [pool, pool], strides: [pool, pool] } },
      { op: 'Flatten', inputs: ['pooled'], outputs: ['h'], attributes: { axis: 1 } },
    ],
    initializers: [],
    inputs: [{ name: 'pixels', elemType: ONNX_FLOAT, shape: ['n', 3, imageSize, imageSize] }],
    outputs: [{ name: 'h', elemType: ONNX_FLOAT, shape: ['n', dim] }],
    opset: 17,
    metadata: formatEncoderMetadata({ imageSize, mean: [0, 0, 0], std: [1, 1, 1], inputLayout: 'nchw' }),
  });
  await writeFile(file, bytes);
  return dim;
}

/**
 * Writes an untrained ResNet-18 of `width` (weights from `seed`, BatchNorm at its initial
 * running statistics) as an ONNX encoder.
 *
 * @example
 *   await writeUntrainedEncoder('untrained.onnx', 16, 0);
 */
export async function writeUntrainedEncoder(file: string, width: number, seed: number): Promise<number> {
  await initBackend('auto');
  const net = new ResNet({ width, imageSize: 32, seed });
  try {
    await writeFile(file, exportResNetToOnnx(net));
    return net.featureDim;
  } finally {
    net.dispose();
  }
}

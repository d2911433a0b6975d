/**
 * Embeddings of a data set by an encoder on the path `gssd cleanse` takes (an ONNX model run by
 * `OnnxEncoder` through the decode and embed stages), and their leave-one-out k-NN accuracy:
 * the benches' measure of how well an encoder's features separate the classes.
 */
import { readBatches } from '../../src/io/read.js';
import { resolveInputs } from '../../src/io/inputs.js';
import { decode } from '../../src/stages/decode.js';
import { embedBatch } from '../../src/stages/embed.js';
import { initBackend } from '../../src/models/backend.js';
import { loadResNet } from '../../src/models/save.js';
import { exportResNetToOnnx } from '../../src/models/onnx-export.js';
import { OnnxEncoder } from '../../src/models/onnx-encoder.js';
import { knnAccuracy } from '../../src/eval/knn-accuracy.js';

/**
 * Every row's embedding and label. `encoder` is a gssd encoder directory (exported to ONNX
 * with BatchNorm folded, as the cleanse does) or an `.onnx` image tower.
 *
 * @example
 *   const { features, labels, dim } = await embedFeatures('enc/encoder', 'data/train');
 */
export async function embedFeatures(encoder: string, data: string): Promise<{ features: Float32Array; labels: Int32Array; dim: number; runtime: string }> {
  let model: string | Uint8Array = encoder;
  if (!encoder.endsWith('.onnx')) {
    await initBackend('auto');
    const net = await loadResNet(encoder);
    model = exportResNetToOnnx(net);
    net.dispose();
  }
  const enc = await OnnxEncoder.load(model);
  try {
    const dim = enc.featureDim;
    const parts: Float32Array[] = [];
    const labels: number[] = [];
    for await (const batch of decode(readBatches(await resolveInputs([data])))) {
      const { features, valid, reasons } = await embedBatch(batch, enc);
      const label = batch.getChild('label')!;
      for (let i = 0; i < batch.numRows; i++) {
        if (!valid[i]) throw new Error(`${data}: row ${labels.length} has no embedding: ${reasons[i]}`);
        labels.push(Number(label.get(i)));
      }
      parts.push(features);
    }
    const features = new Float32Array(labels.length * dim);
    let at = 0;
    for (const p of parts) {
      features.set(p, at);
      at += p.length;
    }
    return { features, labels: Int32Array.from(labels), dim, runtime: `onnx-${enc.provider} (${enc.intraOpThreads} threads)` };
  } finally {
    await enc.close();
  }
}

/**
 * Leave-one-out k-NN accuracy (cosine, true labels) of an encoder's features on `data`.
 *
 * @example
 *   const { accuracy } = await featuresKnn('pixels.onnx', 'data/train', 20);
 */
export async function featuresKnn(encoder: string, data: string, k: number): Promise<{ accuracy: number; rows: number; dim: number }> {
  const { features, labels, dim } = await embedFeatures(encoder, data);
  const { accuracy, rows } = knnAccuracy(features, labels, dim, { k });
  return { accuracy, rows, dim };
}

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, UsageError } from '../src/errors.js';
import { writeFileAtomic } from '../src/io/atomic-file.js';
import { initBackend, type BackendName } from '../src/models/backend.js';
import { exportResNetToOnnx } from '../src/models/onnx-export.js';
import { loadResNet, MANIFEST, readManifest } from '../src/models/save.js';
import type { Logger } from '../src/log.js';

export interface ExportOnnxSettings {
  /** A saved gssd encoder (`DIR/encoder` of `gssd pretrain`, or that run directory). */
  encoder?: string;
  /** Or a `gssd train` model (`DIR/model`, or that run directory): its backbone is exported, the head left out. */
  model?: string;
  /** The `.onnx` file to write. */
  out: string;
  /** `nhwc255`: float pixels 0..255, normalisation inside the graph; `nchw`: normalised NCHW (PyTorch's convention). */
  inputLayout: 'nhwc255' | 'nchw';
  backend: BackendName;
}

/** What `exportOnnx` wrote. */
export interface ExportOnnxResult {
  out: string;
  bytes: number;
  featureDim: number;
  imageSize: number;
  width: number;
  inputLayout: string;
  /** `encoder` (SimCLR) or `classifier backbone` (gssd train). */
  source: string;
}

/**
 * `gssd export-onnx`: writes a gssd encoder, or the backbone of a `gssd train` classifier (a
 * supervised "transfer" encoder), as an ONNX model (BatchNorm folded, the gssd_* metadata
 * naming its input size and normalisation), atomically, for `gssd cleanse --encoder x.onnx`
 * or any ONNX Runtime user.
 *
 * @example
 *   await exportOnnx({ encoder: 'enc', out: 'enc.onnx', inputLayout: 'nhwc255', backend: 'auto' }, log);
 *   await exportOnnx({ model: 'train-run', out: 'backbone.onnx', inputLayout: 'nhwc255', backend: 'auto' }, log);
 */
export async function exportOnnx(s: ExportOnnxSettings, log: Logger): Promise<ExportOnnxResult> {
  if ((s.encoder === undefined) === (s.model === undefined)) throw new UsageError('Give the model to export with --encoder DIR (gssd pretrain) or --model DIR (gssd train), one of them');
  await initBackend(s.backend);
  const given = (s.encoder ?? s.model)!;
  // the model directory itself, or the run directory of gssd pretrain (encoder/) or gssd train (model/)
  const dir = [given, join(given, 'encoder'), join(given, 'model')].find((d) => existsSync(join(d, MANIFEST))) ?? given;
  if (!existsSync(join(dir, MANIFEST))) throw new InputError(`${given}: not a saved gssd ${s.encoder !== undefined ? 'encoder' : 'train model'} (no ${MANIFEST})`);
  const { kind } = await readManifest(dir);
  const wanted = s.encoder !== undefined ? ['resnet', 'simclr'] : ['classifier'];
  if (!wanted.includes(kind)) {
    throw new InputError(`${given}: holds a gssd ${kind}, not a ${s.encoder !== undefined ? 'SimCLR encoder (a gssd train model goes with --model)' : 'gssd train model (an encoder goes with --encoder)'}`);
  }
  const net = await loadResNet(dir);
  try {
    const bytes = exportResNetToOnnx(net, { inputLayout: s.inputLayout });
    await writeFileAtomic(s.out, bytes);
    log.info('exported', { out: s.out, bytes: bytes.length });
    return { out: s.out, bytes: bytes.length, featureDim: net.featureDim, imageSize: net.imageSize, width: net.width, inputLayout: s.inputLayout, source: kind === 'classifier' ? 'classifier backbone' : 'encoder' };
  } finally {
    net.dispose();
  }
}

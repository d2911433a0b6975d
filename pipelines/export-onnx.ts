import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../src/errors.js';
import { writeFileAtomic } from '../src/io/atomic-file.js';
import { initBackend, type BackendName } from '../src/models/backend.js';
import { exportResNetToOnnx } from '../src/models/onnx-export.js';
import { loadResNet, MANIFEST } from '../src/models/save.js';
import type { Logger } from '../src/log.js';

export interface ExportOnnxSettings {
  /** A saved gssd encoder (`DIR/encoder` of `gssd pretrain`, or that run directory). */
  encoder: string;
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
}

/**
 * `gssd export-onnx`: writes a gssd encoder as an ONNX model (BatchNorm folded, the gssd_*
 * metadata naming its input size and normalisation), atomically, for `--encoder x.onnx` or
 * any ONNX Runtime user.
 *
 * @example
 *   await exportOnnx({ encoder: 'enc', out: 'enc.onnx', inputLayout: 'nhwc255', backend: 'auto' }, log);
 */
export async function exportOnnx(s: ExportOnnxSettings, log: Logger): Promise<ExportOnnxResult> {
  await initBackend(s.backend);
  const dir = !existsSync(join(s.encoder, MANIFEST)) && existsSync(join(s.encoder, 'encoder', MANIFEST)) ? join(s.encoder, 'encoder') : s.encoder;
  if (!existsSync(join(dir, MANIFEST))) throw new InputError(`${s.encoder}: not a saved gssd encoder (no ${MANIFEST})`);
  const net = await loadResNet(dir);
  try {
    const bytes = exportResNetToOnnx(net, { inputLayout: s.inputLayout });
    await writeFileAtomic(s.out, bytes);
    log.info('exported', { out: s.out, bytes: bytes.length });
    return { out: s.out, bytes: bytes.length, featureDim: net.featureDim, imageSize: net.imageSize, width: net.width, inputLayout: s.inputLayout };
  } finally {
    net.dispose();
  }
}

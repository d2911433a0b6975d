/**
 * How gssd describes an image encoder's input in an ONNX model's `metadata_props`:
 * `gssd_image_size` (side in pixels), `gssd_mean` and `gssd_std` (per-channel RGB, as JSON
 * arrays, on the 0..1 scale), `gssd_input_layout` (see {@link OnnxInputLayout}).
 */

/**
 * The input a model expects for n images of side S:
 * - `nhwc255`: [n, S, S, 3] RGB pixel values 0..255; the model normalises (gssd's export).
 * - `nchw255`: [n, 3, S, S] pixel values 0..255; the model normalises.
 * - `nhwc`: [n, S, S, 3] normalised, (x / 255 - mean) / std.
 * - `nchw`: [n, 3, S, S] normalised (what a model exported from PyTorch usually takes).
 *
 * Float32 input; a `*255` layout may also be a uint8 input.
 */
export type OnnxInputLayout = 'nhwc255' | 'nchw255' | 'nhwc' | 'nchw';

export const INPUT_LAYOUTS: readonly OnnxInputLayout[] = ['nhwc255', 'nchw255', 'nhwc', 'nchw'];

/** The metadata keys. */
export const META_IMAGE_SIZE = 'gssd_image_size';
export const META_MEAN = 'gssd_mean';
export const META_STD = 'gssd_std';
export const META_INPUT_LAYOUT = 'gssd_input_layout';

/** The input description gssd writes and reads. */
export interface EncoderInputSpec {
  imageSize: number;
  mean: number[];
  std: number[];
  inputLayout: OnnxInputLayout;
}

/**
 * The metadata entries of an input description.
 *
 * @example
 *   formatEncoderMetadata({ imageSize: 32, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], inputLayout: 'nhwc255' });
 *   // { gssd_image_size: '32', gssd_mean: '[0.5,0.5,0.5]', ... }
 */
export function formatEncoderMetadata(spec: EncoderInputSpec): Record<string, string> {
  return {
    [META_IMAGE_SIZE]: String(spec.imageSize),
    [META_MEAN]: JSON.stringify(spec.mean),
    [META_STD]: JSON.stringify(spec.std),
    [META_INPUT_LAYOUT]: spec.inputLayout,
  };
}

/**
 * The parts of an input description present in a model's metadata (malformed entries are
 * an error naming the key).
 *
 * @example
 *   const partial = parseEncoderMetadata(readOnnxMetadata(bytes));   // { imageSize: 32, ... }
 */
export function parseEncoderMetadata(meta: Record<string, string>): Partial<EncoderInputSpec> {
  const out: Partial<EncoderInputSpec> = {};
  if (meta[META_IMAGE_SIZE] !== undefined) {
    const v = Number(meta[META_IMAGE_SIZE]);
    if (!Number.isInteger(v) || v < 1) throw new Error(`ONNX metadata ${META_IMAGE_SIZE}: expected an integer from 1 and up, got \`${meta[META_IMAGE_SIZE]}\``);
    out.imageSize = v;
  }
  for (const [key, field] of [
    [META_MEAN, 'mean'],
    [META_STD, 'std'],
  ] as const) {
    if (meta[key] === undefined) continue;
    let v: unknown;
    try {
      v = JSON.parse(meta[key]);
    } catch {
      v = undefined;
    }
    checkChannels(`ONNX metadata ${key}`, v, field === 'std');
    out[field] = v as number[];
  }
  if (meta[META_INPUT_LAYOUT] !== undefined) {
    const v = meta[META_INPUT_LAYOUT] as OnnxInputLayout;
    if (!INPUT_LAYOUTS.includes(v)) throw new Error(`ONNX metadata ${META_INPUT_LAYOUT}: expected one of ${INPUT_LAYOUTS.join(', ')}, got \`${v}\``);
    out.inputLayout = v;
  }
  return out;
}

/**
 * Throws unless `v` is three finite numbers (positive ones when `positive`).
 *
 * @example
 *   checkChannels('`mean`', [0.5, 0.5, 0.5]);
 */
export function checkChannels(what: string, v: unknown, positive = false): asserts v is number[] {
  const ok = Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0));
  if (!ok) throw new Error(`${what}: expected 3 ${positive ? 'positive ' : ''}numbers (R, G, B), got \`${JSON.stringify(v)}\``);
}

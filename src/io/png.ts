import { PNG } from 'pngjs';

/**
 * Encodes uint8 HWC RGB pixels (size x size x 3) as a PNG (lossless), the format gssd
 * writes images in.
 *
 * @example
 *   const bytes = encodePng(pixels, 32);
 */
export function encodePng(pixels: Uint8Array, size: number, height = size): Uint8Array {
  const png = new PNG({ width: size, height, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  png.data = Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  return new Uint8Array(PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false }));
}

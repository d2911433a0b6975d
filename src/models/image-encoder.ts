/**
 * Anything that turns decoded images into feature vectors: a gssd ResNet (TF.js) or an
 * ONNX model. `embed` takes n images of imageSize x imageSize x 3 uint8 HWC RGB, back to
 * back, and returns n x featureDim float32 values, row-major.
 */
export interface ImageEncoder {
  readonly featureDim: number;
  readonly imageSize: number;
  embed(pixels: Uint8Array, n: number): Promise<Float32Array>;
}

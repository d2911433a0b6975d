import { describe, expect, it } from 'vitest';
import { formatEncoderMetadata, parseEncoderMetadata } from '../../src/models/onnx-metadata.js';

describe('gssd ONNX metadata', () => {
  it('round-trips an input description', () => {
    const spec = { imageSize: 224, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], inputLayout: 'nchw' as const };
    expect(parseEncoderMetadata(formatEncoderMetadata(spec))).toEqual(spec);
    expect(parseEncoderMetadata({ other: 'x' })).toEqual({});
  });

  it('names the malformed key', () => {
    expect(() => parseEncoderMetadata({ gssd_image_size: '3.5' })).toThrow('gssd_image_size');
    expect(() => parseEncoderMetadata({ gssd_mean: '[0.5, 0.5]' })).toThrow('gssd_mean');
    expect(() => parseEncoderMetadata({ gssd_std: '[0.5, 0, 0.5]' })).toThrow('gssd_std');
    expect(() => parseEncoderMetadata({ gssd_std: 'nope' })).toThrow('gssd_std');
    expect(() => parseEncoderMetadata({ gssd_input_layout: 'chw' })).toThrow('gssd_input_layout');
  });
});

import { describe, expect, it } from 'vitest';
import { Binary, Field, Int64, Struct, Utf8 } from 'apache-arrow';
import { buildData, makeBatch } from '../../src/io/arrow-data.js';
import { DEFAULT_COLUMNS, imageBytesAt } from '../../src/io/columns.js';

describe('imageBytesAt', () => {
  it('reads binary and {bytes, path} struct image columns', () => {
    const a = new Uint8Array([1, 2, 3]);
    const binary = makeBatch([new Field('image', new Binary(), true)], [buildData(new Binary(), [a, null], 0, 2)]);
    expect(imageBytesAt(binary, DEFAULT_COLUMNS, 0)).toEqual(a);
    expect(imageBytesAt(binary, DEFAULT_COLUMNS, 1)).toBeNull();
    const type = new Struct([new Field('bytes', new Binary(), true), new Field('path', new Utf8(), true)]);
    const struct = makeBatch([new Field('img', type, true)], [buildData(type, [{ bytes: a, path: 'p' }, null, { bytes: null, path: 'q' }], 0, 3)]);
    const cols = { ...DEFAULT_COLUMNS, image: 'img' };
    expect(imageBytesAt(struct, cols, 0)).toEqual(a);
    expect(imageBytesAt(struct, cols, 1)).toBeNull();
    expect(imageBytesAt(struct, cols, 2)).toBeNull();
    expect(() => imageBytesAt(makeBatch([new Field('id', new Int64())], [buildData(new Int64(), [1n], 0, 1)]), DEFAULT_COLUMNS, 0)).toThrow('no image column');
  });
});

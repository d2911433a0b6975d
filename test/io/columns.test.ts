import { describe, expect, it } from 'vitest';
import { Binary, Field, Int64, Struct, Utf8 } from 'apache-arrow';
import { buildData, makeBatch } from '../../src/io/arrow-data.js';
import { DEFAULT_COLUMNS, imageBytesAt, imageColumnOf, resolveColumns } from '../../src/io/columns.js';

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

describe('the columns option', () => {
  it('fills the names not given from the defaults', () => {
    expect(resolveColumns({ image: 'img' })).toEqual({ id: 'id', label: 'label', image: 'img' });
    expect(resolveColumns()).toEqual(DEFAULT_COLUMNS);
  });

  it('finds the image column by its type when the default name is absent, and only then', () => {
    const a = new Uint8Array([9]);
    const type = new Struct([new Field('bytes', new Binary(), true), new Field('path', new Utf8(), true)]);
    const hf = makeBatch(
      [new Field('label', new Int64()), new Field('img', type, true)],
      [buildData(new Int64(), [3n], 0, 1), buildData(type, [{ bytes: a, path: null }], 0, 1)],
    );
    expect(imageColumnOf(hf.schema.fields, 'image')).toBe('img');
    expect(imageColumnOf(hf.schema.fields, 'picture')).toBeNull();
    expect(imageBytesAt(hf, DEFAULT_COLUMNS, 0)).toEqual(a);
    const two = makeBatch(
      [new Field('a', new Binary()), new Field('b', new Binary())],
      [buildData(new Binary(), [a], 0, 1), buildData(new Binary(), [a], 0, 1)],
    );
    expect(imageColumnOf(two.schema.fields, 'image')).toBeNull();
  });
});

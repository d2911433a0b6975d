import { describe, expect, it } from 'vitest';
import { Binary, Field, Float32, Int64, Struct, Utf8, vectorFromArray, RecordBatch, makeData, Schema } from 'apache-arrow';
import { takeRows, withColumns } from '../../src/io/batch-ops.js';

function sampleBatch(): RecordBatch {
  const imageType = new Struct([new Field('bytes', new Binary(), true), new Field('path', new Utf8(), true)]);
  const id = vectorFromArray([10n, 11n, 12n], new Int64());
  const image = vectorFromArray(
    [
      { bytes: new Uint8Array([1, 2]), path: 'a.png' },
      { bytes: new Uint8Array([3]), path: 'b.png' },
      null,
    ],
    imageType,
  );
  const fields = [new Field('id', new Int64(), false), new Field('image', imageType, true)];
  const schema = new Schema(fields, new Map([['k', 'v']]));
  return new RecordBatch(schema, makeData({ type: new Struct(fields), length: 3, nullCount: 0, children: [id.data[0], image.data[0]] }));
}

describe('withColumns', () => {
  it('appends columns and keeps the existing ones and the schema metadata', () => {
    const out = withColumns(sampleBatch(), [{ name: 'score', vector: vectorFromArray([0.5, 1.5, -2], new Float32()) }]);
    expect(out.schema.fields.map((f) => f.name)).toEqual(['id', 'image', 'score']);
    expect(out.schema.metadata.get('k')).toBe('v');
    expect(Array.from(out.getChild('score')!.toArray())).toEqual([0.5, 1.5, -2]);
    expect(out.getChild('id')!.get(2)).toBe(12n);
  });

  it('replaces a column of the same name', () => {
    const once = withColumns(sampleBatch(), [{ name: 'score', vector: vectorFromArray([1, 2, 3], new Float32()) }]);
    const twice = withColumns(once, [{ name: 'score', vector: vectorFromArray([4, 5, 6], new Float32()) }]);
    expect(twice.schema.fields.map((f) => f.name)).toEqual(['id', 'image', 'score']);
    expect(Array.from(twice.getChild('score')!.toArray())).toEqual([4, 5, 6]);
  });

  it('refuses a column of the wrong length', () => {
    expect(() => withColumns(sampleBatch(), [{ name: 's', vector: vectorFromArray([1], new Float32()) }])).toThrow(/1 rows, the batch 3/);
  });
});

describe('takeRows', () => {
  it('gathers rows in the given order, structs and nulls included', () => {
    const out = takeRows(sampleBatch(), [2, 0]);
    expect(out.numRows).toBe(2);
    expect(out.getChild('id')!.get(0)).toBe(12n);
    expect(out.getChild('id')!.get(1)).toBe(10n);
    expect(out.getChild('image')!.isValid(0)).toBe(false);
    const img = out.getChild('image')!.get(1)!.toJSON() as { bytes: Uint8Array; path: string };
    expect(Array.from(img.bytes)).toEqual([1, 2]);
    expect(img.path).toBe('a.png');
  });

  it('gives an empty batch for no indices', () => {
    expect(takeRows(sampleBatch(), []).numRows).toBe(0);
  });
});

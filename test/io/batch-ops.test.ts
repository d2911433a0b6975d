import { describe, expect, it } from 'vitest';
import { Binary, Field, Int64, Struct, Utf8, vectorFromArray, RecordBatch, makeData, Schema } from 'apache-arrow';
import { takeRows } from '../../src/io/batch-ops.js';

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

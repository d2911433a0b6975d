import {
  Binary, Bool, DataType, Field, Float32, Float64, Int32, Int64, RecordBatch, Schema, Struct, Type, Utf8,
  makeData, type Data,
} from 'apache-arrow';

/** Values of one column for a run of rows: a typed array or a plain array with nulls. */
export type ColumnValues = ArrayLike<unknown>;

const encoder = new TextEncoder();

/**
 * Arrow Data of `type` from `values[start, end)`. Supports Int32, Int64, Float32, Float64,
 * Bool, Utf8, Binary and Struct of those; `null`/`undefined` are nulls.
 *
 * @example
 *   const data = buildData(new Int64(), new BigInt64Array([1n, 2n]), 0, 2);
 */
export function buildData(type: DataType, values: ColumnValues, start: number, end: number): Data {
  const length = end - start;
  const { bitmap, nullCount } = validity(values, start, end);
  const nullBitmap = nullCount > 0 ? bitmap : undefined;
  switch (type.typeId) {
    case Type.Int: {
      if ((type as Int64).bitWidth === 64) {
        const data = new BigInt64Array(length);
        if (values instanceof BigInt64Array) data.set(values.subarray(start, end));
        else for (let i = 0; i < length; i++) data[i] = toBigInt(values[start + i]);
        return makeData({ type: type as Int64, length, nullCount, nullBitmap, data });
      }
      const data = new Int32Array(length);
      for (let i = 0; i < length; i++) data[i] = Number(values[start + i] ?? 0);
      return makeData({ type: type as Int32, length, nullCount, nullBitmap, data });
    }
    case Type.Float: {
      const data = type instanceof Float32 ? new Float32Array(length) : new Float64Array(length);
      for (let i = 0; i < length; i++) data[i] = Number(values[start + i] ?? 0);
      return makeData({ type: type as Float64, length, nullCount, nullBitmap, data: data as Float64Array });
    }
    case Type.Bool: {
      const data = new Uint8Array((length + 7) >> 3);
      for (let i = 0; i < length; i++) if (values[start + i]) data[i >> 3] |= 1 << (i & 7);
      return makeData({ type: type as Bool, length, nullCount, nullBitmap, data });
    }
    case Type.Utf8:
    case Type.Binary: {
      const parts: Uint8Array[] = new Array(length);
      let total = 0;
      for (let i = 0; i < length; i++) {
        const v = values[start + i];
        const bytes = v == null ? EMPTY : typeof v === 'string' ? encoder.encode(v) : toBytes(v);
        parts[i] = bytes;
        total += bytes.length;
      }
      if (total > 0x7fffffff) throw new RangeError(`a batch column exceeds 2 GiB (${total} bytes); use smaller batches`);
      const valueOffsets = new Int32Array(length + 1);
      const data = new Uint8Array(total);
      let offset = 0;
      for (let i = 0; i < length; i++) {
        data.set(parts[i], offset);
        offset += parts[i].length;
        valueOffsets[i + 1] = offset;
      }
      return makeData({ type: type as Binary, length, nullCount, nullBitmap, valueOffsets, data });
    }
    case Type.Struct: {
      const fields = (type as Struct).children;
      const children = fields.map((field) => {
        const childValues = new Array(length);
        for (let i = 0; i < length; i++) {
          const row = values[start + i] as Record<string, unknown> | null | undefined;
          childValues[i] = row == null ? null : row[field.name];
        }
        return buildData(field.type, childValues, 0, length);
      });
      return makeData({ type: type as Struct, length, nullCount, nullBitmap, children });
    }
    default:
      throw new Error(`cannot build an Arrow column of type ${type}`);
  }
}

/**
 * A RecordBatch from fields and their Data, all of the same length.
 *
 * @example
 *   const batch = makeBatch([new Field('id', new Int64(), false)], [buildData(new Int64(), ids, 0, n)]);
 */
export function makeBatch(fields: Field[], children: Data[], metadata?: Map<string, string>): RecordBatch {
  const length = children[0]?.length ?? 0;
  const schema = new Schema(fields, metadata);
  return new RecordBatch(schema, makeData({ type: new Struct(fields), length, nullCount: 0, children }));
}

/**
 * A copy of `batch` with `fields` added as columns at the end (replacing same-named ones).
 *
 * @example
 *   const out = withColumns(batch, [new Field('score', new Float64(), true)], [scoreData]);
 */
export function withColumns(batch: RecordBatch, fields: Field[], children: Data[]): RecordBatch {
  const names = new Set(fields.map((f) => f.name));
  const keep = batch.schema.fields.map((f, i) => ({ f, i })).filter(({ f }) => !names.has(f.name));
  return makeBatch(
    [...keep.map(({ f }) => f), ...fields],
    [...keep.map(({ i }) => batch.data.children[i]), ...children],
    batch.schema.metadata,
  );
}

const EMPTY = new Uint8Array(0);

function toBytes(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  return encoder.encode(String(v));
}

function toBigInt(v: unknown): bigint {
  if (v == null) return 0n;
  if (typeof v === 'bigint') return v;
  return BigInt(Math.trunc(Number(v)));
}

function validity(values: ColumnValues, start: number, end: number): { bitmap: Uint8Array; nullCount: number } {
  const length = end - start;
  const bitmap = new Uint8Array((length + 7) >> 3);
  let nullCount = 0;
  if (ArrayBuffer.isView(values)) {
    bitmap.fill(0xff);
    return { bitmap, nullCount };
  }
  for (let i = 0; i < length; i++) {
    if (values[start + i] == null) nullCount++;
    else bitmap[i >> 3] |= 1 << (i & 7);
  }
  return { bitmap, nullCount };
}

export { Binary, Bool, Field, Float32, Float64, Int32, Int64, Struct, Utf8 };

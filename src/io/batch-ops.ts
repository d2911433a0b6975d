import { Field, RecordBatch, Schema, Struct, makeData, vectorFromArray, type DataType, type Vector } from 'apache-arrow';

/**
 * Row and column operations on Arrow record batches that the stages need: add columns,
 * and gather rows by index (to split one batch into several sinks).
 */

/** A column to add: its name, Arrow type and a vector of batch.numRows values. */
export interface NewColumn {
  name: string;
  vector: Vector;
}

/**
 * A batch with `columns` appended (replacing any of the same name). Keeps schema metadata.
 *
 * @example
 *   const out = withColumns(batch, [{ name: 'gssd_score', vector: vectorFromArray(scores, new Float32()) }]);
 */
export function withColumns(batch: RecordBatch, columns: NewColumn[]): RecordBatch {
  const replaced = new Set(columns.map((c) => c.name));
  const fields: Field[] = [];
  const children = [];
  batch.schema.fields.forEach((f, i) => {
    if (replaced.has(f.name)) return;
    fields.push(f);
    children.push(batch.data.children[i]);
  });
  for (const c of columns) {
    if (c.vector.length !== batch.numRows) throw new Error(`column ${c.name} has ${c.vector.length} rows, the batch ${batch.numRows}`);
    const data = c.vector.data.length === 1 ? c.vector.data[0] : vectorFromArray(c.vector.toArray(), c.vector.type).data[0];
    fields.push(new Field(c.name, c.vector.type, true));
    children.push(data);
  }
  const schema = new Schema(fields, batch.schema.metadata);
  return new RecordBatch(schema, makeData({ type: new Struct(fields), length: batch.numRows, nullCount: 0, children }));
}

/**
 * A batch of the rows at `indices` (in that order), same schema.
 *
 * @example
 *   const clean = takeRows(batch, [0, 3, 4]);
 */
export function takeRows(batch: RecordBatch, indices: ArrayLike<number>): RecordBatch {
  const fields = batch.schema.fields;
  const children = fields.map((f, c) => gather(batch.getChildAt(c)!, f.type, indices).data[0]);
  return new RecordBatch(batch.schema, makeData({ type: new Struct(fields), length: indices.length, nullCount: 0, children }));
}

function gather(vector: Vector, type: DataType, indices: ArrayLike<number>): Vector {
  const values = new Array(indices.length);
  const isStruct = type.typeId === new Struct([]).typeId;
  for (let k = 0; k < indices.length; k++) {
    const v = vector.get(indices[k]);
    values[k] = isStruct && v !== null ? (v as { toJSON(): unknown }).toJSON() : v;
  }
  const out = vectorFromArray(values, type);
  return out.data.length === 1 ? out : vectorFromArray(out.toArray(), type);
}

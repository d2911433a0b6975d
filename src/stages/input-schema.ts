import { Field, Int64, Type, type Data, type DataType, type RecordBatch } from 'apache-arrow';
import { buildData, makeBatch } from '../io/arrow-data.js';
import type { Columns } from '../io/columns.js';

/** Column that locates an output row in the inputs when they have no id column: the global row index. */
export const ROW_COLUMN = 'gssd_row';

/** What the inputs looked like (from `readFooters`). */
export interface InputShape {
  /** The id column, or where the reader made one from the row index. */
  columns: Columns;
  hasId: boolean;
  /** The inputs' own label type (the batches carry Int32). */
  labelType: DataType | null;
}

/**
 * A batch of read-and-annotated rows in the inputs' own schema: the id column the reader made
 * (inputs without one) becomes `gssd_row` at the end, and an Int64 label is Int64 again. The
 * other columns, gssd's included, are unchanged.
 *
 * @example
 *   await sink.write(inInputSchema(withVerdicts(batch, verdicts), shape));
 */
export function inInputSchema(batch: RecordBatch, shape: InputShape): RecordBatch {
  const int64Label = shape.labelType?.typeId === Type.Int && (shape.labelType as DataType & { bitWidth: number }).bitWidth === 64;
  if (shape.hasId && !int64Label) return batch;
  const fields: Field[] = [];
  const children: Data[] = [];
  let row: Data | null = null;
  batch.schema.fields.forEach((f, i) => {
    const data = batch.data.children[i];
    if (!shape.hasId && f.name === shape.columns.id) {
      row = data;
      return;
    }
    if (int64Label && f.name === shape.columns.label) {
      const values = batch.getChildAt(i)!;
      const n = batch.numRows;
      const out = new BigInt64Array(n);
      for (let r = 0; r < n; r++) out[r] = BigInt(values.get(r) as number);
      fields.push(new Field(f.name, new Int64(), f.nullable));
      children.push(buildData(new Int64(), out, 0, n));
      return;
    }
    fields.push(f);
    children.push(data);
  });
  if (row) {
    fields.push(new Field(ROW_COLUMN, new Int64(), false));
    children.push(row);
  }
  return makeBatch(fields, children, batch.schema.metadata);
}

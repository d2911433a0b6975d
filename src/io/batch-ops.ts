import type { RecordBatch } from 'apache-arrow';
import { buildData, makeBatch } from './arrow-data.js';

/**
 * A batch of the rows at `indices` (in that order), same schema and metadata: how the route
 * stage splits one batch into its sinks.
 *
 * @example
 *   const clean = takeRows(batch, [0, 3, 4]);
 */
export function takeRows(batch: RecordBatch, indices: ArrayLike<number>): RecordBatch {
  const fields = batch.schema.fields;
  const children = fields.map((f, c) => {
    const vector = batch.getChildAt(c)!;
    const values = new Array(indices.length);
    for (let k = 0; k < indices.length; k++) values[k] = vector.get(indices[k]);
    return buildData(f.type, values, 0, indices.length);
  });
  return makeBatch(fields, children, batch.schema.metadata);
}

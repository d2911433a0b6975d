/**
 * The encoder ladder's data (bench/efficacy.ts): row subsets of the CIFAR-10 shards, and the
 * oracle split of a poisoned set (its rows minus the true poison).
 */
import { readBatches } from '../../src/io/read.js';
import { resolveInputs } from '../../src/io/inputs.js';
import { PartSink } from '../../src/io/part-sink.js';
import { takeRows } from '../../src/io/batch-ops.js';

/**
 * Writes the first `rows` rows of `inputs` to the part directory `out` (`partRows` rows a part).
 *
 * @example
 *   await writeSubset(['train-00000-of-00005.parquet'], 10_000, 'work/data/train');
 */
export async function writeSubset(inputs: string[], rows: number, out: string, partRows?: number): Promise<void> {
  const sink = await PartSink.open(out, partRows ? { partRows } : {});
  let left = rows;
  for await (const b of readBatches(inputs)) {
    if (left <= 0) break;
    await sink.write(b.numRows <= left ? b : b.slice(0, left));
    left -= b.numRows;
  }
  await sink.close();
}

/**
 * Writes the rows of `data` that `truth` (gssd poison's ground truth: id, is_poisoned, ...)
 * does not mark as poisoned: what a perfect detector would keep, for the oracle classifier.
 * Covers of the adaptive attacks keep their true label and stay. Returns the rows written.
 *
 * @example
 *   await writeOracleSplit('work/badnets/poisoned/data', 'work/badnets/poisoned/truth', 'work/badnets/oracle');
 */
export async function writeOracleSplit(data: string, truth: string, out: string): Promise<number> {
  const poisoned = new Set<bigint>();
  for await (const b of readBatches(await resolveInputs([truth]), { columns: { label: 'source_label' }, requireImage: false })) {
    const id = b.getChild('id')!;
    const flag = b.getChild('is_poisoned')!;
    for (let i = 0; i < b.numRows; i++) if (flag.get(i)) poisoned.add(BigInt(id.get(i)));
  }
  if (poisoned.size === 0) throw new Error(`${truth}: no poisoned rows`);
  const sink = await PartSink.open(out);
  let kept = 0;
  for await (const b of readBatches(await resolveInputs([data]))) {
    const id = b.getChild('id')!;
    const keep: number[] = [];
    for (let i = 0; i < b.numRows; i++) if (!poisoned.has(BigInt(id.get(i)))) keep.push(i);
    if (keep.length) await sink.write(takeRows(b, keep));
    kept += keep.length;
  }
  await sink.close();
  return kept;
}

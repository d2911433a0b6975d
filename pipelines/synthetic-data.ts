import { Binary, Field, Int32, Int64 } from 'apache-arrow';
import { PartSink } from '../src/io/part-sink.js';
import { buildData, makeBatch } from '../src/io/arrow-data.js';
import { encodePng } from '../src/io/png.js';
import { syntheticImage, SYNTHETIC_CLASSES } from '../src/data/synthetic.js';
import { Rng } from '../src/rng.js';

/**
 * Writes `rows` seeded procedural images (10 classes, PNG, columns id/label/image, labels
 * round-robin) as Parquet parts in `dir`: the data the demo and tests use where CIFAR-10 is
 * not at hand. Same seed, same bytes.
 *
 * @example
 *   await writeSyntheticDataset('data/synthetic', { rows: 2000, seed: 1 });
 */
export async function writeSyntheticDataset(
  dir: string,
  { rows, seed = 0, size = 32, partRows = 100_000, batchRows = 1000 }: { rows: number; seed?: number; size?: number; partRows?: number; batchRows?: number },
): Promise<void> {
  const rng = new Rng(`${seed}:synthetic`);
  const K = SYNTHETIC_CLASSES.length;
  const sink = await PartSink.open(dir, {
    partRows,
    metadata: { dataset: 'gssd-synthetic', label_names: JSON.stringify(SYNTHETIC_CLASSES), image_format: 'png' },
  });
  const fields = [new Field('id', new Int64(), false), new Field('label', new Int32(), false), new Field('image', new Binary(), false)];
  for (let start = 0; start < rows; start += batchRows) {
    const n = Math.min(batchRows, rows - start);
    const ids = new BigInt64Array(n);
    const labels = new Int32Array(n);
    const images: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const id = start + i;
      ids[i] = BigInt(id);
      labels[i] = id % K;
      images.push(encodePng(syntheticImage(labels[i], rng, size), size));
    }
    await sink.write(makeBatch(fields, [buildData(fields[0].type, ids, 0, n), buildData(fields[1].type, labels, 0, n), buildData(fields[2].type, images, 0, n)]));
  }
  await sink.close();
}

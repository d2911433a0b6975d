import type { Rng } from '../rng.js';

/**
 * Minibatches in a seeded random order from a stream of items, holding at most `capacity`
 * items: once full, each batch takes `batchSize` random items out of the buffer. Bounded
 * memory whatever the stream length; the last partial batch is dropped when smaller than
 * `minLast` (SimCLR needs at least 2 images).
 *
 * @example
 *   for await (const batch of shuffleBatches(images(), 256, 4096, rng)) train(batch);
 */
export async function* shuffleBatches<T>(
  items: AsyncIterable<T>,
  batchSize: number,
  capacity: number,
  rng: Rng,
  { minLast = 1 }: { minLast?: number } = {},
): AsyncGenerator<T[]> {
  const buffer: T[] = [];
  const cap = Math.max(capacity, batchSize);
  const take = (k: number): T[] => {
    const out: T[] = [];
    for (let j = 0; j < k; j++) {
      const i = rng.int(buffer.length);
      out.push(buffer[i]);
      buffer[i] = buffer[buffer.length - 1];
      buffer.pop();
    }
    return out;
  };
  for await (const item of items) {
    buffer.push(item);
    if (buffer.length >= cap) yield take(batchSize);
  }
  while (buffer.length >= batchSize) yield take(batchSize);
  if (buffer.length >= minLast && buffer.length > 0) yield take(buffer.length);
}

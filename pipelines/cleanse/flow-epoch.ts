import type { RunningStats } from '../../src/stages/standardize.js';
import { shuffledEpoch } from '../../src/stages/shuffle.js';
import { Rng } from '../../src/rng.js';

/** What trains flows from a labelled stream: a `FlowBank` (this thread) or a `FlowBankPool` (workers). */
export interface FlowTrainer {
  update(features: Float32Array, labels: Int32Array): void | Promise<void>;
  endEpoch(): void | Promise<void>;
}

/**
 * One epoch of flow training over an embedding cache (rows of h then the label): the rows in
 * the seeded block-shuffled order of epoch `epoch`, standardised, those whose label `accept`s
 * fed to the bank, then `endEpoch`. Flow c only ever sees rows of class c, in this order, so
 * training one class alone (accept = label === c) gives that flow bit for bit what training
 * all classes together gives it: the per-class fit job relies on this.
 *
 * @example
 *   await flowEpoch(bank, 'work/embeddings.f32', 512, rows, stats, 7, 0, (label) => label >= 0);
 */
export async function flowEpoch(
  bank: FlowTrainer,
  cache: string,
  dim: number,
  totalRows: number,
  stats: RunningStats,
  seed: number,
  epoch: number,
  accept: (label: number) => boolean,
  onChunk: (rows: number) => void = () => {},
): Promise<void> {
  const cols = dim + 1;
  const std = stats.std();
  for await (const chunk of shuffledEpoch(cache, cols, totalRows, new Rng(`${seed}:fit:${epoch}`))) {
    const keep: number[] = [];
    for (let k = 0; k < chunk.n; k++) if (accept(chunk.rows[k * cols + dim])) keep.push(k);
    const h = new Float32Array(keep.length * dim);
    const labels = new Int32Array(keep.length);
    keep.forEach((k, j) => {
      h.set(chunk.rows.subarray(k * cols, k * cols + dim), j * dim);
      labels[j] = chunk.rows[k * cols + dim];
    });
    await bank.update(stats.standardize(h, keep.length, std), labels);
    onChunk(chunk.n);
  }
  await bank.endEpoch();
}

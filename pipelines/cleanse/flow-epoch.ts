import type { RunningStats } from '../../src/stages/standardize.js';
import { shuffledEpoch } from '../../src/stages/shuffle.js';
import { Rng } from '../../src/rng.js';
import { embeddingColumns, splitEmbeddingRows } from '../../src/io/work-files.js';

/** What trains flows from a labelled stream: a `FlowBank` (this thread) or a `FlowBankPool` (workers). */
export interface FlowTrainer {
  update(features: Float32Array, labels: Int32Array): void | Promise<void>;
  endEpoch(): void | Promise<void>;
}

/**
 * One epoch of flow training over an embedding cache or a fit-sample file (rows of h then the
 * label): the rows in the seeded block-shuffled order of epoch `epoch`, standardised, those that
 * `accept` takes (by label and row index in the file) fed to the bank, then
 * `endEpoch`. Flow c only ever sees rows of class c, in this order, so training one class alone
 * (accept = label === c) gives that flow bit for bit what training all classes together gives
 * it: the per-class fit job relies on this. `onChunk` gets the rows read and the rows fed.
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
  accept: (label: number, row: number) => boolean,
  onChunk: (rows: number, fed: number) => void = () => {},
): Promise<void> {
  const std = stats.std();
  for await (const chunk of shuffledEpoch(cache, embeddingColumns(dim), totalRows, new Rng(`${seed}:fit:${epoch}`))) {
    const { h, labels, n } = splitEmbeddingRows(chunk.rows, chunk.n, dim, (label, k) => accept(label, chunk.index[k]));
    await bank.update(stats.standardize(h, n, std), labels);
    onChunk(chunk.n, n);
  }
  await bank.endEpoch();
}

/**
 * Class balancing by oversampling, streaming: each class smaller than the median class is
 * repeated up to the median's size in every epoch, the rest pass once. What a classifier
 * needs after a cleanse has cut most of one class away (the attacked class keeps a tenth of
 * its rows, README "Retraining"): without it the classifier learns that the class is rare and
 * seldom predicts it.
 */
import type { Rng } from '../rng.js';

/** How a classifier's training treats unequal class sizes: as they come, or oversampled. */
export type ClassBalance = 'none' | 'oversample';

/** The accepted `ClassBalance` values. */
export const CLASS_BALANCES: readonly ClassBalance[] = ['none', 'oversample'];

/**
 * The rows each class contributes to an epoch when balanced: max(n_c, median of the non-empty
 * classes' sizes), rounded; empty classes stay empty.
 *
 * @example
 *   balancedClassRows([100, 900, 1000]);   // [900, 900, 1000]
 */
export function balancedClassRows(classRows: readonly number[]): number[] {
  const sizes = classRows.filter((n) => n > 0).sort((a, b) => a - b);
  if (sizes.length === 0) return classRows.map(() => 0);
  const mid = sizes.length >> 1;
  const median = Math.round(sizes.length % 2 ? sizes[mid] : (sizes[mid - 1] + sizes[mid]) / 2);
  return classRows.map((n) => (n > 0 ? Math.max(n, median) : 0));
}

/**
 * Each row of `rows` (labels in [0, classRows.length)) as many times as its class's share of
 * `targets` asks: class c of n_c rows and target T_c >= n_c gives every row floor(T_c / n_c)
 * copies and exactly T_c mod n_c of them one more, chosen by `rng` in one pass (selection
 * sampling), so the epoch has exactly sum(T_c) rows. Copies follow each other (a shuffle
 * buffer mixes them) and are the same object (no memory per copy). `classRows` must be the
 * rows' true class counts: a class with more rows than counted throws.
 *
 * @example
 *   const counts = [100, 900, 1000];
 *   for await (const row of oversampleClasses(rows(), counts, balancedClassRows(counts), rng)) push(row);
 */
export async function* oversampleClasses<T extends { label: number }>(
  rows: AsyncIterable<T>,
  classRows: readonly number[],
  targets: readonly number[],
  rng: Rng,
): AsyncGenerator<T> {
  const seen = classRows.map(() => 0);
  const extraLeft = classRows.map((n, c) => (n > 0 ? targets[c] % n : 0));
  for await (const row of rows) {
    const c = row.label;
    const n = classRows[c] ?? 0;
    if (seen[c] >= n) throw new Error(`class balance: class ${c} has more rows than the ${n} counted`);
    let copies = n > 0 ? Math.floor(targets[c] / n) : 1;
    // selection sampling: the next row takes an extra copy with probability needed / remaining
    if (extraLeft[c] > 0 && rng.next() * (n - seen[c]) < extraLeft[c]) {
      copies++;
      extraLeft[c]--;
    }
    seen[c]++;
    for (let k = 0; k < copies; k++) yield row;
  }
}

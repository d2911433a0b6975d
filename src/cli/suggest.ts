/** Levenshtein distance between two words (insertions, deletions, substitutions). */
export function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}

/**
 * The candidate nearest to `word` by edit distance, if it is near enough to be a typo (at
 * most a third of the word's length, at least 1, away); the first of equals.
 *
 * @example
 *   nearest('flow-epoch', ['flow-epochs', 'flow-lr']);   // 'flow-epochs'
 *   nearest('frob', ['cleanse', 'demo']);                // undefined
 */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

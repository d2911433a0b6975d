import type { LikelihoodChunk } from '../../src/detect/likelihood-chunk.js';

/** Rows (label, L row) as a re-readable stream of chunks of `size` rows. */
export function chunkReader(labels: number[], rows: number[][], size: number): () => AsyncIterable<LikelihoodChunk> {
  const K = rows[0].length;
  return async function* read() {
    for (let s = 0; s < labels.length; s += size) {
      const n = Math.min(size, labels.length - s);
      const L = new Float32Array(n * K);
      for (let i = 0; i < n; i++) L.set(rows[s + i], i * K);
      yield { labels: Int32Array.from(labels.slice(s, s + n)), L, n };
    }
  };
}

/**
 * K = 3. Class 0: u = exp(L[.,1]) is 0.1 (20 rows), 0.71 (30), 1.0 (50) -> a separated low mode.
 * Class 1: u = 0.9 for all 50 rows -> m = 0. Class 2: u in {0.8, 1.0} -> no edge below 0.75.
 */
export function handCase() {
  const labels: number[] = [];
  const rows: number[][] = [];
  const add = (y: number, row: number[], times: number) => {
    for (let t = 0; t < times; t++) {
      labels.push(y);
      rows.push(row);
    }
  };
  add(0, [-0.5, Math.log(0.1), -3], 20);
  add(0, [-0.5, Math.log(0.71), -3], 30);
  add(0, [-0.5, 0, -3], 50);
  add(1, [Math.log(0.9), -0.2, -3], 50);
  add(2, [Math.log(0.8), -3, -0.3], 25);
  add(2, [0, -3, -0.3], 25);
  // interleave a little so classes are not contiguous
  const order = labels.map((_, i) => i).sort((a, b) => (a % 7) - (b % 7) || a - b);
  return { labels: order.map((i) => labels[i]), rows: order.map((i) => rows[i]) };
}

/** A D-test histogram object for decideDetection tests. */
export function hist(label: number, counts: number[], min: number, max: number) {
  const bins = counts.length;
  const edges = Array.from({ length: bins + 1 }, (_, k) => min + ((max - min) * k) / bins);
  return { label, n: counts.reduce((a, b) => a + b, 0), min, max, edges, counts };
}

/**
 * Uniform-bin histograms that give the same edges and counts as `numpy.histogram(x, bins)`:
 * edges = linspace(min, max, bins + 1) (the last edge is exactly max), every bin half-open
 * [e_k, e_k+1) except the last, which is closed; if min == max the range is widened to
 * [min - 0.5, max + 0.5] as numpy does. Values are binned one at a time, so a streaming
 * pass can fill it once min and max are known from an earlier pass.
 *
 * @example
 *   const edges = histogramEdges(0, 1, 4);      // [0, 0.25, 0.5, 0.75, 1]
 *   const counts = new Float64Array(4);
 *   for (const x of [0, 0.3, 1]) counts[histogramBin(x, edges)] += 1; // [1, 1, 0, 1]
 */
export function histogramEdges(min: number, max: number, bins: number): number[] {
  let first = min;
  let last = max;
  if (first === last) {
    first -= 0.5;
    last += 0.5;
  }
  const step = (last - first) / bins;
  const edges: number[] = new Array(bins + 1);
  for (let k = 0; k <= bins; k++) edges[k] = k * step + first;
  edges[bins] = last;
  return edges;
}

/**
 * The bin of `x` for edges from `histogramEdges`, or -1 when x is outside [e_0, e_last]
 * (numpy drops such values). Same arithmetic and corrections as numpy's uniform-bin path.
 *
 * @example
 *   histogramBin(1, histogramEdges(0, 1, 4)); // 3 (the last bin is closed)
 */
export function histogramBin(x: number, edges: readonly number[]): number {
  const bins = edges.length - 1;
  const first = edges[0];
  const last = edges[bins];
  if (!(x >= first && x <= last)) return -1;
  let k = Math.floor(((x - first) / (last - first)) * bins);
  if (k >= bins) k = bins - 1;
  if (x < edges[k]) k -= 1;
  else if (k !== bins - 1 && x >= edges[k + 1]) k += 1;
  return k;
}

/** A 1-D mixture of two Gaussians. */
export interface Mixture2 {
  weights: [number, number];
  means: [number, number];
  sds: [number, number];
  /** EM iterations run. */
  iterations: number;
}

const SQRT2PI = Math.sqrt(2 * Math.PI);

function pdf(x: number, mean: number, sd: number): number {
  const z = (x - mean) / sd;
  return Math.exp(-0.5 * z * z) / (sd * SQRT2PI);
}

/**
 * Fit a 2-component 1-D Gaussian mixture by EM to a histogram (each bin's count placed at its
 * centre), so a streaming pass that fills the histogram is all the data it needs. Starts from
 * the 25% and 75% quantile bins with half the overall sd each; sds are floored at half a bin
 * width so a component cannot collapse onto one bin. Deterministic.
 *
 * @example
 *   const mix = fitMixture2(edges, counts); // components sorted by mean: mix.means[0] < mix.means[1]
 */
export function fitMixture2(edges: readonly number[], counts: readonly number[], maxIterations = 500, tolerance = 1e-10): Mixture2 {
  const B = counts.length;
  const centres = counts.map((_, k) => (edges[k] + edges[k + 1]) / 2);
  const total = counts.reduce((a, b) => a + b, 0);
  const width = (edges[B] - edges[0]) / B;
  const floor = Math.max(width / 2, 1e-12);
  let mean = 0;
  for (let k = 0; k < B; k++) mean += counts[k] * centres[k];
  mean /= total;
  let variance = 0;
  for (let k = 0; k < B; k++) variance += counts[k] * (centres[k] - mean) ** 2;
  variance /= total;
  const quantile = (q: number) => {
    let cum = 0;
    for (let k = 0; k < B; k++) {
      cum += counts[k];
      if (cum >= q * total) return centres[k];
    }
    return centres[B - 1];
  };
  const w: [number, number] = [0.5, 0.5];
  const mu: [number, number] = [quantile(0.25), quantile(0.75)];
  const sd: [number, number] = [Math.max(Math.sqrt(variance) / 2, floor), Math.max(Math.sqrt(variance) / 2, floor)];
  let last = -Infinity;
  let it = 0;
  for (; it < maxIterations; it++) {
    const n = [0, 0];
    const s1 = [0, 0];
    const s2 = [0, 0];
    let ll = 0;
    for (let k = 0; k < B; k++) {
      if (counts[k] === 0) continue;
      const x = centres[k];
      const p0 = w[0] * pdf(x, mu[0], sd[0]);
      const p1 = w[1] * pdf(x, mu[1], sd[1]);
      const p = p0 + p1 || 1e-300;
      ll += counts[k] * Math.log(p);
      const r0 = (counts[k] * p0) / p;
      const r1 = counts[k] - r0;
      n[0] += r0;
      n[1] += r1;
      s1[0] += r0 * x;
      s1[1] += r1 * x;
      s2[0] += r0 * x * x;
      s2[1] += r1 * x * x;
    }
    for (const j of [0, 1]) {
      if (n[j] <= 0) continue;
      w[j] = n[j] / total;
      mu[j] = s1[j] / n[j];
      sd[j] = Math.max(Math.sqrt(Math.max(s2[j] / n[j] - mu[j] * mu[j], 0)), floor);
    }
    if (Math.abs(ll - last) <= tolerance * Math.abs(ll)) break;
    last = ll;
  }
  const order = mu[0] <= mu[1] ? [0, 1] : [1, 0];
  return {
    weights: [w[order[0]], w[order[1]]],
    means: [mu[order[0]], mu[order[1]]],
    sds: [sd[order[0]], sd[order[1]]],
    iterations: it,
  };
}

/**
 * Posterior probability of component `j` at x.
 *
 * @example
 *   posterior(mix, 1, x); // P(the higher-mean component | x)
 */
export function posterior(mix: Mixture2, j: 0 | 1, x: number): number {
  const p0 = mix.weights[0] * pdf(x, mix.means[0], mix.sds[0]);
  const p1 = mix.weights[1] * pdf(x, mix.means[1], mix.sds[1]);
  const p = p0 + p1;
  if (p === 0) return x < (mix.means[0] + mix.means[1]) / 2 ? (j === 0 ? 1 : 0) : j === 1 ? 1 : 0;
  return (j === 0 ? p0 : p1) / p;
}

/**
 * Feature standardisation (docs/method.md, step 2): running per-dimension mean and variance by
 * Welford's method in float64, fed row by row in stream order (so the result does not
 * depend on batch sizes), then z = (h - mean) / std.
 *
 * @example
 *   const stats = new RunningStats(512);
 *   stats.addRows(h, n);                 // h: n x 512
 *   const z = stats.standardize(h, n);   // new Float32Array
 */
export class RunningStats {
  count = 0;
  readonly mean: Float64Array;
  readonly m2: Float64Array;

  constructor(readonly dim: number) {
    this.mean = new Float64Array(dim);
    this.m2 = new Float64Array(dim);
  }

  static fromJSON(json: { dim: number; count: number; mean: number[]; m2: number[] }): RunningStats {
    const s = new RunningStats(json.dim);
    s.count = json.count;
    s.mean.set(json.mean);
    s.m2.set(json.m2);
    return s;
  }

  toJSON(): { dim: number; count: number; mean: number[]; m2: number[] } {
    return { dim: this.dim, count: this.count, mean: Array.from(this.mean), m2: Array.from(this.m2) };
  }

  /** Adds n rows of `dim` values each. */
  addRows(values: Float32Array, n: number): void {
    const d = this.dim;
    for (let i = 0; i < n; i++) {
      this.count++;
      const inv = 1 / this.count;
      const off = i * d;
      for (let j = 0; j < d; j++) {
        const x = values[off + j];
        const delta = x - this.mean[j];
        this.mean[j] += delta * inv;
        this.m2[j] += delta * (x - this.mean[j]);
      }
    }
  }

  /**
   * Combines the statistics of another part of the data into these (Chan et al.'s parallel
   * formula), as when per-shard embed jobs ran on several machines. Equal to one pass over
   * both parts up to float64 rounding.
   *
   * @example
   *   const all = new RunningStats(512); for (const s of shardStats) all.merge(s);
   */
  merge(other: RunningStats): this {
    if (other.dim !== this.dim) throw new Error(`merge: dimension ${other.dim} is not ${this.dim}`);
    const n = this.count + other.count;
    if (other.count === 0) return this;
    for (let j = 0; j < this.dim; j++) {
      const delta = other.mean[j] - this.mean[j];
      this.mean[j] += (delta * other.count) / n;
      this.m2[j] += other.m2[j] + (delta * delta * this.count * other.count) / n;
    }
    this.count = n;
    return this;
  }

  /** Population standard deviation per dimension (as torch's std(unbiased=False)); 1 where it is 0. */
  std(): Float64Array {
    const out = new Float64Array(this.dim);
    for (let j = 0; j < this.dim; j++) {
      const v = this.count > 0 ? this.m2[j] / this.count : 0;
      out[j] = v > 1e-12 ? Math.sqrt(v) : 1;
    }
    return out;
  }

  /** z-scores n rows into a new array. */
  standardize(values: Float32Array, n: number, std: Float64Array = this.std()): Float32Array {
    const d = this.dim;
    const out = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      const off = i * d;
      for (let j = 0; j < d; j++) out[off + j] = (values[off + j] - this.mean[j]) / std[j];
    }
    return out;
  }
}

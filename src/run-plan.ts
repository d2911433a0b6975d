/** One pass of a run's plan: its units of work (rows, or rows x epochs) and their relative cost. */
export interface PlannedPass {
  pass: string;
  units: number;
  /** Cost of one unit relative to the other passes' units (e.g. one embedded row = 1). */
  weight: number;
}

/**
 * The passes a run will go through, in order, with an estimate of their relative cost, for an
 * ETA over the whole run: a pass's `Progress` gives its own rate, which the plan scales by the
 * weights to the passes still to come. The weights are rough (measured on one machine), so the
 * overall ETA is an estimate; what it shows up front is which pass dominates.
 *
 * @example
 *   const plan = new RunPlan([{ pass: 'pretrain', units: rows * epochs, weight: 6 }, { pass: 'embed', units: rows, weight: 1 }]);
 *   log.info('estimated work', plan.shares());       // estimated work pretrain=98% embed=2%
 *   plan.etaSec('pretrain', 1000, 50);               // seconds left in pretrain and embed
 */
export class RunPlan {
  constructor(readonly passes: PlannedPass[]) {}

  /** Each pass's share of the estimated work, e.g. `{ pretrain: '96%', embed: '3%', fit: '1%', score: '<1%' }`. */
  shares(): Record<string, string> {
    const total = this.passes.reduce((sum, p) => sum + p.units * p.weight, 0);
    const out: Record<string, string> = {};
    for (const p of this.passes) {
      const pct = total > 0 ? (100 * p.units * p.weight) / total : 0;
      out[p.pass] = `${pct > 0 && pct < 1 ? '<1' : Math.round(pct)}%`;
    }
    return out;
  }

  /**
   * Seconds left in the whole run while `pass` has done `done` of its units at `rate` units/s:
   * the rest of this pass plus the later passes at this pass's speed scaled by the weights.
   * Undefined when the pass is not in the plan or has no rate yet.
   */
  etaSec(pass: string, done: number, rate: number): number | undefined {
    const at = this.passes.findIndex((p) => p.pass === pass);
    if (at < 0 || !(rate > 0)) return undefined;
    const current = this.passes[at];
    const secondsPerCost = 1 / (rate * current.weight);
    const later = this.passes.slice(at + 1).reduce((sum, p) => sum + p.units * p.weight, 0);
    return Math.max(0, current.units - done) / rate + later * secondsPerCost;
  }
}

import { UsageError, InputError } from '../errors.js';
import { Rng } from '../rng.js';

/** What happens to one row. */
export type PoisonRole = 'poison' | 'cover' | 'clean';

/** How many rows to poison and cover, known before the stream starts. */
export interface PoisonPlan {
  target: number;
  /** Rows whose label is not the target. */
  nonTarget: number;
  /** floor(rate * nonTarget) */
  poisonCount: number;
  /** floor(coverRate * nonTarget) */
  coverCount: number;
}

/**
 * The poison plan: poisoned count = floor(rate * nonTarget) (docs/method.md), cover count =
 * floor(coverRate * nonTarget), both drawn from the non-target rows.
 *
 * @example
 *   poisonPlan(45_000, 0.1);            // { target: 0, nonTarget: 45000, poisonCount: 4500, coverCount: 0 }
 *   poisonPlan(45_000, 0.01, 0.01, 3);  // 450 poisoned + 450 cover, target 3
 */
export function poisonPlan(nonTarget: number, rate: number, coverRate = 0, target = 0): PoisonPlan {
  if (!Number.isInteger(nonTarget) || nonTarget < 0) throw new UsageError(`Expected the non-target count to be an integer from 0 and up, got \`${nonTarget}\``);
  if (!(rate >= 0 && rate <= 1)) throw new UsageError(`Expected \`--rate\` to be a number in [0, 1], got \`${rate}\``);
  if (!(coverRate >= 0 && coverRate <= 1)) throw new UsageError(`Expected \`--cover-rate\` to be a number in [0, 1], got \`${coverRate}\``);
  if (!Number.isInteger(target) || target < 0) throw new UsageError(`Expected \`--target\` to be a class index, got \`${target}\``);
  const poisonCount = Math.floor(rate * nonTarget);
  const coverCount = Math.floor(coverRate * nonTarget);
  if (poisonCount + coverCount > nonTarget) {
    throw new UsageError(`Expected \`--rate\` + \`--cover-rate\` to be at most 1, got \`${rate + coverRate}\``);
  }
  return { target, nonTarget, poisonCount, coverCount };
}

/** Checkpointable state of a `PoisonSelector`. */
export interface PoisonSelectorState {
  plan: PoisonPlan;
  seen: number;
  chosen: number;
  poisoned: number;
  rng: number[];
}

/**
 * Streaming, exact, deterministic choice of the poisoned and cover rows, one decision per
 * row in stream order. Selection sampling (Knuth, TAOCP vol. 2, 3.4.2, Algorithm S): the
 * t-th non-target row (0-based) is chosen with probability (need) / (nonTarget - t), need
 * = rows still to choose, which gives exactly poisonCount + coverCount chosen rows, every
 * subset of that size equally likely; a chosen row is then a poison row with probability
 * (poison still needed) / (chosen still to come), the same algorithm on the chosen rows, so
 * exactly poisonCount are poisoned and the rest are covers. Target-class rows are always
 * clean and draw no random number. The state (counters + Rng state) can be checkpointed.
 *
 * @example
 *   const sel = new PoisonSelector(poisonPlan(nonTarget, 0.1), new Rng(seed));
 *   for (const label of labels) roles.push(sel.decide(label)); // 'poison' | 'cover' | 'clean'
 *   sel.finish(); // throws if the stream did not hold `nonTarget` non-target rows
 */
export class PoisonSelector {
  readonly plan: PoisonPlan;
  private readonly rng: Rng;
  private seen = 0;
  private chosen = 0;
  private poisoned = 0;

  constructor(plan: PoisonPlan, rng: Rng) {
    this.plan = plan;
    this.rng = rng;
  }

  static fromState(state: PoisonSelectorState): PoisonSelector {
    const s = new PoisonSelector(state.plan, Rng.fromState(state.rng));
    s.seen = state.seen;
    s.chosen = state.chosen;
    s.poisoned = state.poisoned;
    return s;
  }

  state(): PoisonSelectorState {
    return { plan: { ...this.plan }, seen: this.seen, chosen: this.chosen, poisoned: this.poisoned, rng: this.rng.state() };
  }

  /** The role of the next row of the stream, given its original label. */
  decide(label: number): PoisonRole {
    const { plan } = this;
    if (label === plan.target) return 'clean';
    if (this.seen >= plan.nonTarget) {
      throw new InputError(`more than the announced ${plan.nonTarget} non-target rows in the stream`);
    }
    const total = plan.poisonCount + plan.coverCount;
    const need = total - this.chosen;
    const left = plan.nonTarget - this.seen;
    this.seen += 1;
    if (need <= 0 || this.rng.next() * left >= need) return 'clean';
    const poisonNeed = plan.poisonCount - this.poisoned;
    const chosenLeft = total - this.chosen;
    this.chosen += 1;
    if (poisonNeed > 0 && this.rng.next() * chosenLeft < poisonNeed) {
      this.poisoned += 1;
      return 'poison';
    }
    return 'cover';
  }

  /** Throws `InputError` unless exactly `nonTarget` non-target rows went by. */
  finish(): { poisoned: number; covers: number } {
    if (this.seen !== this.plan.nonTarget) {
      throw new InputError(`expected ${this.plan.nonTarget} non-target rows in the stream, saw ${this.seen}`);
    }
    return { poisoned: this.poisoned, covers: this.chosen - this.poisoned };
  }
}

/**
 * The roles of all rows of a label list (non-streaming convenience over `PoisonSelector`).
 *
 * @example
 *   selectPoisonRows(labels, 0.1, { seed: 1 }); // ['clean', 'poison', ...]
 */
export function selectPoisonRows(
  labels: ArrayLike<number>,
  rate: number,
  options: { coverRate?: number; target?: number; seed?: number | string } = {},
): PoisonRole[] {
  const target = options.target ?? 0;
  let nonTarget = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] !== target) nonTarget += 1;
  const sel = new PoisonSelector(poisonPlan(nonTarget, rate, options.coverRate ?? 0, target), new Rng(options.seed ?? 0));
  const roles = Array.from(labels, (y) => sel.decide(y));
  sel.finish();
  return roles;
}

/**
 * The label a row is stored with after poisoning: the target for poisoned rows of a
 * dirty-label attack, the original label otherwise (cover and clean rows).
 *
 * @example
 *   labelAfterPoisoning(7, 'poison', true, 0); // 0
 *   labelAfterPoisoning(7, 'cover', true, 0);  // 7
 */
export function labelAfterPoisoning(label: number, role: PoisonRole, dirtyLabel: boolean, target: number): number {
  return role === 'poison' && dirtyLabel ? target : label;
}

import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/rng.js';
import { InputError, UsageError } from '../../src/errors.js';
import { PoisonSelector, labelAfterPoisoning, poisonPlan, selectPoisonRows } from '../../src/attacks/poison-selector.js';

function labels(n: number, K: number, seed = 1): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => rng.int(K));
}

describe('poison selection', () => {
  it('poisons exactly floor(rate * non-target) non-target rows', () => {
    const y = labels(5003, 10);
    const nonTarget = y.filter((v) => v !== 0).length;
    for (const rate of [0.1, 0.01, 0.2567]) {
      const roles = selectPoisonRows(y, rate, { seed: 7 });
      expect(roles.filter((r) => r === 'poison').length).toBe(Math.floor(rate * nonTarget));
      expect(roles.every((r, i) => r === 'clean' || y[i] !== 0)).toBe(true);
    }
    expect(poisonPlan(45_000, 0.1)).toEqual({ target: 0, nonTarget: 45000, poisonCount: 4500, coverCount: 0 });
  });

  it('adds exactly floor(coverRate * non-target) cover rows, disjoint from the poisoned ones', () => {
    const y = labels(20_000, 10, 2);
    const nonTarget = y.filter((v) => v !== 3).length;
    const roles = selectPoisonRows(y, 0.01, { coverRate: 0.01, target: 3, seed: 'x' });
    expect(roles.filter((r) => r === 'poison').length).toBe(Math.floor(0.01 * nonTarget));
    expect(roles.filter((r) => r === 'cover').length).toBe(Math.floor(0.01 * nonTarget));
    expect(roles.every((r, i) => r === 'clean' || y[i] !== 3)).toBe(true);
  });

  it('switches labels only for poisoned rows of dirty-label attacks', () => {
    expect(labelAfterPoisoning(7, 'poison', true, 0)).toBe(0);
    expect(labelAfterPoisoning(7, 'cover', true, 0)).toBe(7);
    expect(labelAfterPoisoning(7, 'clean', true, 0)).toBe(7);
    expect(labelAfterPoisoning(7, 'poison', false, 0)).toBe(7);
  });

  it('is deterministic, differs by seed, and resumes exactly from a checkpoint', () => {
    const y = labels(3000, 10, 3);
    expect(selectPoisonRows(y, 0.1, { seed: 5 })).toEqual(selectPoisonRows(y, 0.1, { seed: 5 }));
    expect(selectPoisonRows(y, 0.1, { seed: 5 })).not.toEqual(selectPoisonRows(y, 0.1, { seed: 6 }));
    const plan = poisonPlan(y.filter((v) => v !== 0).length, 0.05, 0.05);
    const whole = new PoisonSelector(plan, new Rng(5));
    const expected = y.map((v) => whole.decide(v));
    const first = new PoisonSelector(plan, new Rng(5));
    const got = y.slice(0, 1234).map((v) => first.decide(v));
    const resumed = PoisonSelector.fromState(JSON.parse(JSON.stringify(first.state())));
    got.push(...y.slice(1234).map((v) => resumed.decide(v)));
    expect(got).toEqual(expected);
    expect(resumed.finish()).toEqual({ poisoned: plan.poisonCount, covers: plan.coverCount });
  });

  it('spreads the choice over the stream (each half gets about half)', () => {
    const y = new Array(20_000).fill(1);
    const roles = selectPoisonRows(y, 0.1, { seed: 1 });
    const firstHalf = roles.slice(0, 10_000).filter((r) => r === 'poison').length;
    expect(firstHalf).toBeGreaterThan(900);
    expect(firstHalf).toBeLessThan(1100);
  });

  it('checks the announced counts and rates', () => {
    const sel = new PoisonSelector(poisonPlan(2, 0.5), new Rng(0));
    sel.decide(1);
    expect(() => sel.finish()).toThrow(InputError);
    sel.decide(1);
    expect(() => sel.decide(1)).toThrow(InputError);
    expect(() => poisonPlan(10, 0.8, 0.3)).toThrow(UsageError);
  });
});

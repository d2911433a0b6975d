import { describe, expect, it } from 'vitest';
import { RunPlan } from '../src/run-plan.js';

describe('RunPlan', () => {
  const plan = new RunPlan([
    { pass: 'pretrain', units: 50_000, weight: 35 },
    { pass: 'embed', units: 5000, weight: 1 },
    { pass: 'fit', units: 250_000, weight: 0.2 },
    { pass: 'route', units: 5000, weight: 0.07 },
  ]);

  it('shows which pass dominates', () => {
    expect(plan.shares()).toEqual({ pretrain: '97%', embed: '<1%', fit: '3%', route: '<1%' });
  });

  it('scales the running pass\'s rate to the passes after it', () => {
    // pretrain at 10 rows/s: 40,000 rows left = 4,000 s; the rest costs 5000 + 50,000 + 350 = 55,350 units at 350 units/s
    expect(plan.etaSec('pretrain', 10_000, 10)).toBeCloseTo(4000 + 55_350 / 350, 6);
    // in the last pass only its own rows are left
    expect(plan.etaSec('route', 4000, 100)).toBe(10);
    expect(plan.etaSec('detect', 0, 100)).toBeUndefined();
    expect(plan.etaSec('embed', 0, 0)).toBeUndefined();
  });
});

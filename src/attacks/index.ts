/**
 * Backdoor attacks used to evaluate the defence (docs/method.md, "Attacks gssd can make"),
 * all-to-one, on uint8 HWC RGB images of any size, deterministic given the pattern seed and
 * the per-sample Rng.
 *
 * @example
 *   const attack = ATTACKS['adap-blend'];
 *   const sel = new PoisonSelector(poisonPlan(nonTarget, attack.rate, attack.coverRate ?? 0), new Rng(seed));
 *   const role = sel.decide(label);
 *   if (role !== 'clean') pixels = attack.apply(pixels, 32, rowRng);
 */
import { UsageError } from '../errors.js';
import type { Attack, AttackName } from './attack.js';
import { makeAdapBlend } from './adap-blend.js';
import { makeAdapPatch } from './adap-patch.js';
import { makeBadnets } from './badnets.js';
import { makeBlend } from './blend.js';
import { makeWanet } from './wanet.js';
import { makeLabelConsistent } from './label-consistent.js';

export * from './attack.js';
export * from './image.js';
export * from './badnets.js';
export * from './blend.js';
export * from './wanet.js';
export * from './adap-blend.js';
export * from './adap-patch.js';
export * from './poison-selector.js';
export * from './label-consistent.js';
export * from './pgd.js';

const MAKERS: Record<Exclude<AttackName, 'lc'>, (patternSeed: number) => Attack> = {
  badnets: makeBadnets,
  blend: makeBlend,
  wanet: makeWanet,
  'adap-patch': makeAdapPatch,
  'adap-blend': makeAdapBlend,
};

/** The attack names, in registry order. */
export const ATTACK_NAMES = Object.keys(MAKERS) as Exclude<AttackName, 'lc'>[];

/**
 * An attack with its fixed trigger drawn from `patternSeed`.
 *
 * @example
 *   const a = makeAttack('blend', 7); a.triggerPattern(32); // save as PNG
 */
export function makeAttack(name: string, patternSeed = 0): Attack {
  // the clean-label attack: its trigger alone (gssd poison adds the adversarial perturbation)
  if (name === 'lc') return makeLabelConsistent(patternSeed);
  const make = MAKERS[name as Exclude<AttackName, 'lc'>];
  if (!make) throw new UsageError(`Expected \`--attack\` to be one of ${[...ATTACK_NAMES, 'lc'].map((n) => `\`${n}\``).join(', ')}, got \`${name}\``);
  return make(patternSeed);
}

/** The registry: every attack with pattern seed 0. */
export const ATTACKS: Readonly<Record<Exclude<AttackName, 'lc'>, Attack>> = Object.freeze(
  Object.fromEntries(ATTACK_NAMES.map((n) => [n, makeAttack(n, 0)])) as Record<Exclude<AttackName, 'lc'>, Attack>,
);

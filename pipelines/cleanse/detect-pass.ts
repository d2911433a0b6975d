import { detectTargets } from '../../src/detect/detect-targets.js';
import { computeSplitThresholds } from '../../src/detect/split-thresholds.js';
import { computeAdaptiveThresholds } from '../../src/detect/adaptive-thresholds.js';
import { eligibleReader, trainableClasses } from '../../src/io/work-files.js';
import type { RunContext } from './context.js';
import { CLEANSE_DEFAULTS } from './options.js';
import { summarizeScores } from '../../src/detect/score-summary.js';

/** Thumbnails report.html shows at each end of a flagged class's score order. */
export const THUMBS_PER_END = 8;

/**
 * Pass 4b (docs/method.md, steps 5 and 6): target-class detection (D-test, ND-test) over the
 * likelihood file, then the cut points of every flagged class (exact alpha fractions, or the
 * adaptive mixture cut), by a few more streaming passes over the same file. Small results; stored in the checkpoint state.
 */
export async function detectPass(ctx: RunContext): Promise<void> {
  const { options, state } = ctx;
  const K = state.numClasses!;
  const read = eligibleReader(ctx.files.likelihood, K, trainableClasses(state.embed.labelCounts, K));
  const detection = await detectTargets(read, K, {
    mode: options.targetDetection,
    lambda: options.lambda,
    betaD: options.betaD,
    betaND: options.betaND,
    robustAlpha: options.robustAlpha ?? CLEANSE_DEFAULTS.robustAlpha,
    robustNDScale: options.robustNDScale ?? CLEANSE_DEFAULTS.robustNDScale,
  });
  const { passes, ...thresholds } =
    options.cut === 'adaptive'
      ? { passes: 3, ...(await computeAdaptiveThresholds(read, detection)) }
      : await computeSplitThresholds(read, detection, { alphaClean: options.alphaClean, alphaPoisoned: options.alphaPoison });
  state.detection = detection;
  state.thresholds = { ...thresholds, relabelMargin: options.relabelMargin };
  // the report's view of each flagged class: a histogram of its scores and the rows at both ends
  state.scoreViews = await summarizeScores(read, K, detection.flagged.map((f) => f.label), { bins: 40, k: THUMBS_PER_END });
  await ctx.commit();
  ctx.log.info('detect done', {
    flagged: detection.flagged.map((f) => `${f.label} (${f.test}-test)`),
    clean: detection.clean,
    thresholdPasses: passes,
  });
}

import { existsSync } from 'node:fs';
import type { DetectionReport } from '../../src/detect/detection-report.js';
import { readManifest } from '../../src/models/save.js';

/**
 * The smallest SimCLR budget at which bench:efficacy found the target of every 10% attack
 * with no clean class flagged (README, "Target detection": 10,000 rows, width 16 x 5 epochs;
 * at width 8 x 5 epochs which target was found depended on the encoder run).
 */
export const RELIABLE_ENCODER = { width: 16, epochs: 5 } as const;

/**
 * A class is "far larger than the others" when it has more than this many times the median
 * class size. An all-to-one attack that relabels 10% of the other classes' rows makes its
 * target about 2.1x the median (0.19 N against 0.09 N); natural imbalance rarely passes 1.6x
 * on curated sets. The ratio is a warning, never a flag.
 */
export const LARGE_CLASS_RATIO = 1.6;

/** What is known about how the run's encoder was trained. */
export interface EncoderBudget {
  /** `simclr`: gssd's self-supervised encoder (this run's or `gssd pretrain`'s); `supervised`: a `gssd train` backbone; `onnx`: a given ONNX tower; `unknown`: not recorded. */
  kind: 'simclr' | 'supervised' | 'onnx' | 'unknown';
  width: number | null;
  epochs: number | null;
  /** Where the figures come from. */
  source: string;
}

/** The detection statistic that came closest to flagging a class. */
export type NearestMiss =
  | { label: number; test: 'D' | 'ND' | 'knn'; kind: 'robust'; index: number; critical: number }
  | { label: number; test: 'ND'; kind: 'paper'; statistic: number; threshold: number };

/** What the run can say about its data, for the CLI and the reports (report.json `verdict`). */
export interface Verdict {
  /** One line: the flagged classes, or "no class flagged" with the statistic nearest to a flag. Never "clean". */
  text: string;
  flagged: number[];
  /** Robust mode: the largest outlier index and its critical value; paper mode: the lowest ND statistic and beta_ND; null for a baseline detector. */
  nearest: NearestMiss | null;
  /** Usable rows per class (rejected rows left out). */
  classSizes: number[];
  medianClassSize: number;
  /** The largest class and its size over the median. */
  largestClass: { label: number; n: number; ratioToMedian: number } | null;
  /** The ratio above which a class size is warned about (LARGE_CLASS_RATIO). */
  largeClassRatio: number;
  encoder: EncoderBudget;
  warnings: string[];
}

/**
 * The run's verdict: what was flagged, or, when nothing was, the statistic nearest to a flag
 * against its critical value (a run that flags nothing does not show the data clean); plus
 * warnings for an encoder below the budget the bench found reliable and for a class far
 * larger than the median.
 *
 * @example
 *   const v = buildVerdict({ flagged: [], detection, classSizes: [900, 910, 1900], encoder, detector: 'gssd' });
 *   v.text; // 'no class flagged: largest outlier index 1.54 (class 1, ND-test) against critical 2.45'
 */
export function buildVerdict(a: {
  flagged: { label: number; test: string }[];
  detection: DetectionReport | null;
  classSizes: number[];
  encoder: EncoderBudget;
  detector: string;
  /** --detector knn: the outlier test of each class's removed share. */
  knnClasses?: { label: number; index: number | null; critical: number | null }[];
}): Verdict {
  const nearest = a.detection ? nearestMiss(a.detection) : a.knnClasses ? knnNearest(a.knnClasses) : null;
  const warnings: string[] = [];
  let text: string;
  if (a.flagged.length) {
    text = `flagged: ${a.flagged.map((f) => `class ${f.label} (${f.test === 'D' || f.test === 'ND' ? `${f.test}-test` : f.test})`).join(', ')}`;
  } else {
    text = `no class flagged${a.detector === 'gssd' ? '' : ` by ${a.detector}`}${nearest ? `: ${describeNearest(nearest)}` : ''}`;
    const e = a.encoder;
    if (e.kind === 'simclr' && ((e.width !== null && e.width < RELIABLE_ENCODER.width) || (e.epochs !== null && e.epochs < RELIABLE_ENCODER.epochs))) {
      warnings.push(
        `the encoder (SimCLR width ${e.width ?? '?'} x ${e.epochs ?? '?'} epochs) is below the budget at which the bench found the targets of its 10% attacks reliably (width ${RELIABLE_ENCODER.width} x ${RELIABLE_ENCODER.epochs} epochs on 10,000 rows; README "Target detection"): a poisoned class can go unflagged; cleanse again with a larger --width/--pretrain-epochs or a stronger --encoder`,
      );
    }
  }
  const sizes = a.classSizes;
  const med = median(sizes.filter((n) => n > 0));
  let largestClass: Verdict['largestClass'] = null;
  if (sizes.length && med > 0) {
    let label = 0;
    for (let c = 1; c < sizes.length; c++) if (sizes[c] > sizes[label]) label = c;
    largestClass = { label, n: sizes[label], ratioToMedian: Math.round((sizes[label] / med) * 1000) / 1000 };
    if (largestClass.ratioToMedian > LARGE_CLASS_RATIO && sizes.filter((n) => n > 0).length >= 3) {
      warnings.push(
        `class ${label} has ${sizes[label].toLocaleString('en-US')} rows, ${largestClass.ratioToMedian.toFixed(2)}x the median class size (${med.toLocaleString('en-US')}; warned above ${LARGE_CLASS_RATIO}x): an all-to-one attack that relabels 10% of the other classes makes its target about twice the median`,
      );
    }
  }
  return { text, flagged: a.flagged.map((f) => f.label), nearest, classSizes: sizes, medianClassSize: med, largestClass, largeClassRatio: LARGE_CLASS_RATIO, encoder: a.encoder, warnings };
}

/**
 * Robust mode: the largest outlier index over both tests, with its critical value; paper mode:
 * the lowest ND statistic against beta_ND. Null when no class was tested.
 *
 * @example
 *   nearestMiss(report); // { label: 3, test: 'ND', kind: 'robust', index: 1.54, critical: 2.449 }
 */
export function nearestMiss(d: DetectionReport): NearestMiss | null {
  let best: NearestMiss | null = null;
  if (d.mode === 'robust') {
    for (const c of d.classes) {
      const candidates: ['D' | 'ND', number | null, number | null][] = [
        ['ND', c.ndTest.index, c.ndTest.critical],
        ['D', c.dRobust?.index ?? null, c.dRobust?.critical ?? null],
      ];
      for (const [test, index, critical] of candidates) {
        if (index === null || critical === null || !Number.isFinite(index)) continue;
        if (!best || (best.kind === 'robust' && index > best.index)) best = { label: c.label, test, kind: 'robust', index, critical };
      }
    }
    return best;
  }
  for (const c of d.classes) {
    const s = c.ndTest.statistic;
    if (s === null || !Number.isFinite(s)) continue;
    if (!best || (best.kind === 'paper' && s < best.statistic)) best = { label: c.label, test: 'ND', kind: 'paper', statistic: s, threshold: d.options.betaND };
  }
  return best;
}

/** Deep k-NN: the class whose removed share has the largest outlier index. */
function knnNearest(classes: { label: number; index: number | null; critical: number | null }[]): NearestMiss | null {
  let best: NearestMiss | null = null;
  for (const c of classes) {
    if (c.index === null || c.critical === null || !Number.isFinite(c.index)) continue;
    if (!best || (best.kind === 'robust' && c.index > best.index)) best = { label: c.label, test: 'knn', kind: 'robust', index: c.index, critical: c.critical };
  }
  return best;
}

/** "largest outlier index 1.54 (class 3, ND-test) against critical 2.45". */
export function describeNearest(n: NearestMiss): string {
  return n.kind === 'robust'
    ? `largest outlier index ${n.index.toFixed(2)} (class ${n.label}, ${n.test === 'knn' ? 'share removed by Deep k-NN' : `${n.test}-test`}) against critical ${n.critical.toFixed(2)}`
    : `lowest ND statistic ${n.statistic.toFixed(3)} (class ${n.label}) against beta_ND ${n.threshold} (paper thresholds)`;
}

/**
 * What the run knows of its encoder's training: this run's pretraining settings, or the
 * `gssd_budget` a `gssd pretrain` / `gssd train` model directory records in its manifest.
 *
 * @example
 *   await encoderBudget({ pretrained: false, encoder: 'enc/encoder', width: 16, epochs: 10 });
 */
export async function encoderBudget(a: { pretrained: boolean; encoder: string | null; width: number; epochs: number }): Promise<EncoderBudget> {
  if (a.pretrained) return { kind: 'simclr', width: a.width, epochs: a.epochs, source: 'pretrained in this run' };
  const path = a.encoder;
  if (!path) return { kind: 'unknown', width: null, epochs: null, source: 'not recorded' };
  if (path.endsWith('.onnx')) return { kind: 'onnx', width: null, epochs: null, source: `${path} (an ONNX model: its training is not recorded)` };
  if (!existsSync(path)) return { kind: 'unknown', width: null, epochs: null, source: 'not recorded' };
  try {
    const m = await readManifest(path);
    const budget = (m.extra as { gssdBudget?: { trainedBy?: string; epochs?: number } } | null)?.gssdBudget;
    const config = m.config as { width?: number; encoder?: { width?: number } } | null;
    const width = config?.width ?? config?.encoder?.width ?? null;
    if (m.kind === 'classifier') return { kind: 'supervised', width, epochs: budget?.epochs ?? null, source: `${path} (gssd train)` };
    if (budget?.trainedBy === 'simclr') return { kind: 'simclr', width, epochs: budget.epochs ?? null, source: `${path} (gssd pretrain)` };
    return { kind: 'unknown', width, epochs: null, source: `${path} (epochs not recorded)` };
  } catch {
    return { kind: 'unknown', width: null, epochs: null, source: 'not recorded' };
  }
}

function median(xs: number[]): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

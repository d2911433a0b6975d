import { join } from 'node:path';
import { writeFileAtomic } from '../../src/io/atomic-file.js';
import type { DetectionReport } from '../../src/detect/detection-report.js';
import type { DuplicateIds } from '../../src/io/duplicate-ids.js';
import { VERSION } from '../../src/version.js';
import { renderReportHtml } from './report-html.js';
import { readFooters } from '../../src/io/read.js';
import { resolveColumns } from '../../src/io/columns.js';
import { classNamesOf } from '../../src/io/class-names.js';
import { readOptions } from '../../src/io/source-settings.js';
import { baselineFlagged } from './baseline-pass.js';
import type { RunContext } from './context.js';
import { buildVerdict, encoderBudget, type Verdict } from './verdict.js';
import { SPLITS, type PassCost, type PassName, type ScoreView, type SinkName } from './state.js';
import type { SplitThresholds } from '../../src/detect/split-thresholds.js';
import type { AdaptiveCut } from '../../src/detect/adaptive-thresholds.js';
import { readFile } from 'node:fs/promises';
import { trainableClasses } from '../../src/io/work-files.js';

/** DIR/report.json: what a cleanse run found and what it cost. */
export interface CleanseReport {
  gssdVersion: string;
  createdAt: string;
  backend: string;
  /** Who ran the encoder and the flow scoring (e.g. onnx-cpu, tfjs-wasm); null for a pass that did not run. */
  runtimes: { pretrain: string | null; embed: string | null; score: string | null };
  inputs: string[];
  rows: number;
  /** Rows repeating an earlier row's id (kept, routed like any row); null when not counted. */
  duplicateIds?: DuplicateIds | null;
  numClasses: number;
  /** Class names by label, from the inputs' Hugging Face `ClassLabel` metadata; null when they have none. */
  classNames?: string[] | null;
  featureDim: number;
  parameters: Record<string, unknown>;
  /**
   * With `--fit-rows-per-class`: N and, per class (by label), the rows its flow was fitted on
   * (the fit sample; 0 for a class without a flow). Absent without sampling.
   */
  fitSample?: { rowsPerClass: number; rowsFitted: number[] };
  /** gssd, or the baseline detector used. */
  detector: string;
  /** Flagged classes and the test that flagged each (D, ND, or the baseline's name); empty when no class was flagged. */
  flagged: { label: number; test: string }[];
  /** What the run can say: the flagged classes or the statistic nearest to a flag, class sizes, encoder budget, warnings. */
  verdict: Verdict;
  /** Rows per output split; their sum equals `rows`. */
  splits: Record<SinkName, number>;
  /** Rows per class and split (the label x split table); `noLabel`: rejected rows whose label could not be read. Null for runs checkpointed before it existed. */
  classSplits: { byClass: Record<SinkName, number>[]; noLabel: Record<SinkName, number> } | null;
  /** GSSD: the cut points of each flagged class in gssd_score units (null: that side is empty). Empty when nothing was flagged. */
  cuts: ReportCut[];
  /** GSSD: per flagged class, the histogram of gssd_score and the rows at both ends (ids, scores, thumbnail files under checkpoint/thumbs). */
  scoreViews: ScoreView[];
  /** GSSD's per-class detection statistics (null with a baseline detector). */
  detection: DetectionReport | null;
  /** The baseline's per-class summary (null with GSSD). */
  baseline: { method: string; flagged: number[]; removed: number; classes: { label: number; n: number; removed: number; flagged: boolean }[] } | null;
  costs: Partial<Record<PassName, PassCost & { rowsPerSec?: number }>>;
  wallSeconds: number;
}

/** The cut points of one flagged class, in gssd_score units. */
export interface ReportCut {
  label: number;
  test: string;
  mode: 'fixed' | 'adaptive';
  n: number;
  /** Rows the cut puts on the poisoned / clean side (the rest: uncertain). */
  nPoisoned: number;
  nClean: number;
  /** ND-flagged classes: scores at or below it are poisoned; D-flagged: at or above it. Null when no row is. */
  poisonThreshold: number | null;
  /** ND: scores at or above it are clean; D: at or below it. Null when no row is. */
  cleanThreshold: number | null;
  /** Fixed mode only: ties at a threshold are split by row order (see splitRow). */
  tiesByRow: boolean;
}

/** The cut points of the run's thresholds as report rows. */
export function reportCuts(t: SplitThresholds | null): ReportCut[] {
  if (!t) return [];
  const finite = (v: number | undefined | null) => (v !== undefined && v !== null && Number.isFinite(v) ? v : null);
  return t.classes.flatMap((c) => {
    if (!c) return [];
    const nd = c.test === 'ND';
    const low = finite(c.lowLast?.value);
    const high = finite(c.highFirst?.value);
    const a = c as Partial<AdaptiveCut>;
    const adaptive = t.cutMode === 'adaptive';
    return [{
      label: c.label,
      test: c.test,
      mode: t.cutMode,
      n: c.n,
      nPoisoned: c.nPoisoned,
      nClean: c.nClean,
      poisonThreshold: adaptive ? finite(a.poisonThreshold) : nd ? low : high,
      cleanThreshold: adaptive ? finite(a.cleanThreshold) : nd ? high : low,
      tiesByRow: !adaptive,
    }];
  });
}

/** Builds the report from the finished run's state and writes report.json and report.html. */
export async function writeReports(ctx: RunContext, wallSeconds: number): Promise<CleanseReport> {
  const { state, options } = ctx;
  const costs: CleanseReport['costs'] = {};
  for (const [pass, cost] of Object.entries(state.costs) as [PassName, PassCost][]) {
    costs[pass] = { ...cost, ...(cost.rows ? { rowsPerSec: Math.round(cost.rows / Math.max(cost.seconds, 1e-3)) } : {}) };
  }
  const flagged = state.baseline ? baselineFlagged(state.baseline).map((label) => ({ label, test: options.detector as string })) : state.detection!.flagged;
  const report: CleanseReport = {
    gssdVersion: VERSION,
    createdAt: new Date().toISOString(),
    backend: state.backend,
    runtimes: { pretrain: pretrainRuntime(state), embed: state.embedRuntime, score: state.scoreRuntime ?? null },
    inputs: options.inputs,
    rows: state.totalRows,
    duplicateIds: state.duplicateIds ?? null,
    numClasses: state.numClasses!,
    classNames: await inputClassNames(options),
    featureDim: state.featureDim!,
    parameters: state.fingerprint,
    ...(state.fit.rowsFitted && options.fitRowsPerClass !== undefined ? { fitSample: { rowsPerClass: options.fitRowsPerClass, rowsFitted: fittedRows(state) } } : {}),
    detector: options.detector,
    flagged,
    verdict: buildVerdict({
      flagged,
      detection: state.detection,
      classSizes: Array.from({ length: state.numClasses! }, (_, c) => state.embed.labelCounts[c] ?? 0),
      encoder: await encoderBudget({ pretrained: state.pretrain !== null, encoder: options.encoder ?? null, width: options.width, epochs: options.pretrainEpochs }),
      detector: options.detector,
      knnClasses: state.baseline?.method === 'deep-knn' ? state.baseline.classes : undefined,
    }),
    splits: { ...state.route.counts },
    classSplits: state.route.byClass && state.route.noLabel
      ? { byClass: state.route.byClass.map((r) => Object.fromEntries(SPLITS.map((k, j) => [k, r[j]])) as Record<SinkName, number>), noLabel: { ...state.route.noLabel } }
      : null,
    cuts: reportCuts(state.thresholds),
    scoreViews: state.scoreViews ?? [],
    detection: state.detection,
    baseline: state.baseline
      ? {
          method: state.baseline.method,
          flagged: baselineFlagged(state.baseline),
          removed: state.baseline.totalRemoved,
          classes: state.baseline.classes.map((c, label) => ({ label, n: c.n, removed: c.nRemoved, flagged: c.flagged })),
        }
      : null,
    costs,
    wallSeconds: Math.round(wallSeconds * 100) / 100,
  };
  await writeFileAtomic(join(options.out, 'report.json'), JSON.stringify(report, null, 1));
  await writeFileAtomic(join(options.out, 'report.html'), renderReportHtml(report, await readThumbnails(ctx, report.scoreViews)));
  return report;
}

/** The thumbnails the route pass wrote, as base64 PNG by file name (missing files are left out). */
async function readThumbnails(ctx: RunContext, views: ScoreView[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const v of views) {
    for (const r of [...v.lowest, ...v.highest]) {
      if (!r.thumb || out.has(r.thumb)) continue;
      const bytes = await readFile(ctx.checkpoint(join('thumbs', r.thumb))).catch(() => null);
      if (bytes) out.set(r.thumb, bytes.toString('base64'));
    }
  }
  return out;
}

/** The class names in the first input's metadata, if any. */
async function inputClassNames(options: RunContext['options']): Promise<string[] | null> {
  const [footer] = await readFooters(options.inputs.slice(0, 1), readOptions(options.source));
  return classNamesOf(footer.metadata, resolveColumns(options.source.columns).label);
}

/** What trained the run's encoder (e.g. `onnx (2 threads)`), or null when it was given. */
function pretrainRuntime(state: RunContext['state']): string | null {
  if (!state.pretrain) return null;
  const e = state.pretrainEngine;
  if (!e) return 'tfjs';
  return e.trainRuntime === 'onnx' ? `onnx (${e.threads} threads)` : 'tfjs';
}

/** The fit sample's rows per class, 0 for the classes without a flow (they were not fitted). */
function fittedRows(state: RunContext['state']): number[] {
  const K = state.numClasses!;
  const trainable = trainableClasses(state.embed.labelCounts, K);
  return Array.from({ length: K }, (_, c) => (trainable[c] ? (state.fit.rowsFitted![c] ?? 0) : 0));
}

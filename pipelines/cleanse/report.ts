import { join } from 'node:path';
import { writeFileAtomic } from '../../src/io/atomic-file.js';
import type { DetectionReport } from '../../src/detect/detection-report.js';
import { VERSION } from '../../src/version.js';
import { renderReportHtml } from './report-html.js';
import { readFooters } from '../../src/io/read.js';
import { resolveColumns } from '../../src/io/columns.js';
import { classNamesOf } from '../../src/io/class-names.js';
import { readOptions } from '../../src/cli/source-options.js';
import { baselineFlagged } from './baseline-pass.js';
import type { RunContext } from './context.js';
import type { PassCost, PassName, SinkName } from './state.js';

/** DIR/report.json: what a cleanse run found and what it cost. */
export interface CleanseReport {
  gssdVersion: string;
  createdAt: string;
  backend: string;
  /** Who ran the encoder and the flow scoring (e.g. onnx-cpu, tfjs-wasm); null for a pass that did not run. */
  runtimes: { pretrain: string | null; embed: string | null; score: string | null };
  inputs: string[];
  rows: number;
  numClasses: number;
  /** Class names by label, from the inputs' Hugging Face `ClassLabel` metadata; null when they have none. */
  classNames?: string[] | null;
  featureDim: number;
  parameters: Record<string, unknown>;
  /** gssd, or the baseline detector used. */
  detector: string;
  /** Flagged classes and the test that flagged each (D, ND, or the baseline's name); empty when the data was declared clean. */
  flagged: { label: number; test: string }[];
  declaredClean: boolean;
  /** Rows per output split; their sum equals `rows`. */
  splits: Record<SinkName, number>;
  /** GSSD's per-class detection statistics (null with a baseline detector). */
  detection: DetectionReport | null;
  /** The baseline's per-class summary (null with GSSD). */
  baseline: { method: string; flagged: number[]; removed: number; classes: { label: number; n: number; removed: number; flagged: boolean }[] } | null;
  costs: Partial<Record<PassName, PassCost & { rowsPerSec?: number }>>;
  wallSeconds: number;
}

/** Builds the report from the finished run's state and writes report.json and report.html. */
export async function writeReports(ctx: RunContext, wallSeconds: number): Promise<CleanseReport> {
  const { state, options } = ctx;
  const costs: CleanseReport['costs'] = {};
  for (const [pass, cost] of Object.entries(state.costs) as [PassName, PassCost][]) {
    costs[pass] = { ...cost, ...(cost.rows ? { rowsPerSec: Math.round(cost.rows / Math.max(cost.seconds, 1e-3)) } : {}) };
  }
  const report: CleanseReport = {
    gssdVersion: VERSION,
    createdAt: new Date().toISOString(),
    backend: state.backend,
    runtimes: { pretrain: pretrainRuntime(state), embed: state.embedRuntime, score: state.scoreRuntime ?? null },
    inputs: options.inputs,
    rows: state.totalRows,
    numClasses: state.numClasses!,
    classNames: await inputClassNames(options),
    featureDim: state.featureDim!,
    parameters: state.fingerprint,
    detector: options.detector,
    flagged: state.baseline ? baselineFlagged(state.baseline).map((label) => ({ label, test: options.detector })) : state.detection!.flagged,
    declaredClean: state.baseline ? baselineFlagged(state.baseline).length === 0 : state.detection!.clean,
    splits: { ...state.route.counts },
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
  await writeFileAtomic(join(options.out, 'report.html'), renderReportHtml(report));
  return report;
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

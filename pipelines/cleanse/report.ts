import { join } from 'node:path';
import { writeFileAtomic } from '../../src/io/atomic-file.js';
import type { DetectionReport } from '../../src/detect/detectionReport.js';
import { VERSION } from '../../src/version.js';
import { renderReportHtml } from './report-html.js';
import type { RunContext } from './context.js';
import type { PassCost, PassName, SinkName } from './state.js';

/** DIR/report.json: what a cleanse run found and what it cost. */
export interface CleanseReport {
  gssdVersion: string;
  createdAt: string;
  backend: string;
  inputs: string[];
  rows: number;
  numClasses: number;
  featureDim: number;
  parameters: Record<string, unknown>;
  /** Flagged classes and the test that flagged each; empty when the data was declared clean. */
  flagged: DetectionReport['flagged'];
  declaredClean: boolean;
  /** Rows per output split; their sum equals `rows`. */
  splits: Record<SinkName, number>;
  detection: DetectionReport;
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
    inputs: options.inputs,
    rows: state.totalRows,
    numClasses: state.numClasses!,
    featureDim: state.featureDim!,
    parameters: state.fingerprint,
    flagged: state.detection!.flagged,
    declaredClean: state.detection!.clean,
    splits: { ...state.route.counts },
    detection: state.detection!,
    costs,
    wallSeconds: Math.round(wallSeconds * 100) / 100,
  };
  await writeFileAtomic(join(options.out, 'report.json'), JSON.stringify(report, null, 1));
  await writeFileAtomic(join(options.out, 'report.html'), renderReportHtml(report));
  return report;
}

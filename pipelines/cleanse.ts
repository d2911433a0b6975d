import { readOptions } from '../src/io/source-settings.js';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError, InputError } from '../src/errors.js';
import { countRows } from '../src/io/read.js';
import { resolveInputs } from '../src/io/inputs.js';
import { initBackend } from '../src/models/backend.js';
import { loadFlowBank } from '../src/models/save.js';
import { silentLogger, withPlan, type Logger } from '../src/log.js';
import { cleansePlan } from './cleanse/plan.js';
import { VERSION } from '../src/version.js';
import { RunContext } from './cleanse/context.js';
import { embedPass } from './cleanse/embed-pass.js';
import { fitEpochRows, fitPass, flowsDir } from './cleanse/fit-pass.js';
import { MIN_CLASS_ROWS, trainableClasses } from '../src/io/work-files.js';
import { scorePass } from './cleanse/score-pass.js';
import { detectPass } from './cleanse/detect-pass.js';
import { routePass } from './cleanse/route-pass.js';
import { baselinePass } from './cleanse/baseline-pass.js';
import { pretrainPass } from './cleanse/pretrain-pass.js';
import { openEncoder } from './cleanse/open-encoder.js';
import { writeReports, type CleanseReport } from './cleanse/report.js';
import { cleanseOptions, outputFingerprint, type CleanseOptions, type CleanseRequest } from './cleanse/options.js';
import { initialState, PASSES, type CleanseState, type PassName } from './cleanse/state.js';
import { CheckpointStore } from '../src/io/checkpoint.js';
import { RunDir } from '../src/io/run-dir.js';
import { freshRunDir } from '../src/io/fresh-run-dir.js';
import { CLEANSE_RUN_ENTRIES } from './cleanse/run-entries.js';
import { changedInput, pinInputs, type PinOptions } from '../src/io/input-pins.js';
import { isS3Uri } from '../src/io/s3-uri.js';
import { cleanseToS3 } from './cleanse/s3-output.js';

export { CLEANSE_DEFAULTS, cleanseOptions, type CleanseOptions, type CleanseRequest } from './cleanse/options.js';

/**
 * A whole GSSD cleanse run (docs/architecture.md, "Passes"): pretrain (when no encoder
 * is given) -> embed -> fit per-class flows -> score -> detect -> route, each pass streaming
 * and checkpointed under `out/checkpoint`, so that `resume: true` continues a killed run and
 * gives the same output as an uninterrupted one. Writes `out/{clean,poisoned,uncertain,rejected}`
 * Parquet parts and `out/report.json` + `out/report.html`; `out` may be `s3://bucket/prefix`
 * (see `cleanseToS3`: the run directory is then local, `runDir`).
 *
 * @example
 *   const report = await cleanse({ inputs: ['train.parquet'], out: 'out', signal: AbortSignal.timeout(3_600_000) });
 *   console.log(report.flagged, report.splits);
 */
export async function cleanse(request: CleanseRequest, log: Logger = silentLogger): Promise<CleanseReport> {
  if (isS3Uri(request.out)) return cleanseToS3(request, log, cleanse);
  if (request.runDir !== undefined) throw new UsageError('--run-dir is the local run directory of an s3:// --out; with a directory as --out, that directory is the run directory');
  const startedAt = Date.now();
  // inputs as the CLI resolves them: directories and globs to their Parquet files, in order
  const options = cleanseOptions({ ...request, inputs: await resolveInputs(request.inputs) });
  options.signal?.throwIfAborted();
  const run = await RunDir.open(options.out, 'cleanse', log);
  try {
    return await cleanseLocked(options, log, run, startedAt);
  } finally {
    await run.close();
  }
}

/** The run, once this process holds the lock of its directory. */
async function cleanseLocked(options: CleanseOptions, log: Logger, run: RunDir, startedAt: number): Promise<CleanseReport> {
  const backend = await initBackend(options.backend);
  log.info('backend', { backend });
  const state = await openRun(options, backend, run, log);
  const plan = cleansePlan(options, state);
  log = withPlan(log, plan);
  log.info('estimated work', plan.shares());
  const ctx = new RunContext(options, state, log, startedAt, run.tempDir);
  if (options.resume && (state.pass !== 'pretrain' || state.embed.rowsDone > 0)) log.info('resuming', { pass: state.pass, embedRows: state.embed.rowsDone, fitEpochs: state.fit.epochsDone });

  const at = (pass: PassName) => PASSES.indexOf(state.pass) <= PASSES.indexOf(pass);
  const advance = async (next: PassName) => {
    state.pass = next;
    await ctx.commit();
  };

  if (at('pretrain')) {
    await ctx.measure('pretrain', () => pretrainPass(ctx));
    await advance('embed');
  }
  if (at('embed')) {
    const encoder = await openEncoder(ctx);
    state.featureDim = encoder.featureDim;
    try {
      await ctx.measure('embed', () => embedPass(ctx, encoder), state.totalRows);
    } finally {
      await encoder.close();
    }
    finishEmbed(state, options);
    await advance(options.detector === 'gssd' ? 'fit' : 'baseline');
  }
  if (options.detector !== 'gssd') {
    if (at('baseline')) {
      await ctx.measure('baseline', () => baselinePass(ctx));
      await advance('route');
    }
  }
  let bank = null;
  if (options.detector === 'gssd' && at('fit')) {
    bank = await ctx.measure('fit', () => fitPass(ctx), () => fitEpochRows(state) * options.flowEpochs);
    await advance('score');
  }
  if (options.detector === 'gssd' && at('score')) {
    bank ??= await loadFlowBank(flowsDir(ctx, options.flowEpochs));
    const flows = bank;
    try {
      await ctx.measure('score', () => scorePass(ctx, flows), state.totalRows);
    } finally {
      flows.dispose();
    }
    await advance('detect');
  }
  if (options.detector === 'gssd' && at('detect')) {
    await ctx.measure('detect', () => detectPass(ctx));
    await advance('route');
  }
  if (at('route')) {
    await ctx.measure('route', () => routePass(ctx), state.totalRows);
    await advance('done');
  }
  const report = await writeReports(ctx, ctx.elapsed());
  if (!options.keepWork) await rm(join(options.out, 'work'), { recursive: true, force: true });
  return report;
}

/** Creates the run directory and its state, or loads the state of the run to resume. */
async function openRun(options: CleanseOptions, backend: string, run: RunDir, log: Logger): Promise<CleanseState> {
  const store = new CheckpointStore<CleanseState>(options.out);
  const fingerprint = outputFingerprint(options);
  if (options.resume) {
    const state = await store.load();
    if (state) {
      if (existsSync(join(options.out, 'checkpoint', 'distributed.json'))) {
        throw new UsageError(`${options.out}: the run there was started with --engine bullmq; resume it with --engine bullmq --redis URL`);
      }
      if (JSON.stringify(state.fingerprint) !== JSON.stringify(fingerprint)) {
        throw new UsageError(`${options.out}: the run there was started with other options (${diffKeys(state.fingerprint, fingerprint)}); resume with the same options, or use --force to start again`);
      }
      if (state.backend !== backend) {
        throw new UsageError(`${options.out}: the run there used the ${state.backend} backend, this one has ${backend}; resume with --backend ${state.backend}`);
      }
      await checkPins(state, options, store, log);
      await run.adopt();
      return state;
    }
  }
  await freshRunDir(options.out, { command: 'cleanse', entries: CLEANSE_RUN_ENTRIES, resume: options.resume, force: options.force });
  await run.adopt();
  const inputPins = await pinInputs(options.inputs, pinOptions(options));
  const totalRows = await countRows(options.inputs, { ...readOptions(options.source), tempDir: run.tempDir });
  if (totalRows === 0) throw new InputError(`${options.inputs.join(', ')}: no rows to cleanse`);
  const state = initialState(fingerprint, backend, totalRows, VERSION);
  state.inputPins = inputPins;
  if (options.encoder) {
    state.encoderDir = options.encoder;
    state.pass = 'embed';
  }
  await store.save(state);
  return state;
}

/**
 * Refuses a resume whose inputs changed since the run started (another file under the same
 * name gives other rows under the old rows' scores). A checkpoint of a gssd from before input
 * pins has none to compare: the resume goes on with a warning, and the inputs are pinned now.
 */
async function checkPins(state: CleanseState, options: CleanseOptions, store: CheckpointStore<CleanseState>, log: Logger): Promise<void> {
  const now = await pinInputs(options.inputs, pinOptions(options));
  if (!state.inputPins) {
    log.warn('inputs not pinned', { out: options.out, note: 'this checkpoint is from a gssd that did not record its inputs, so a changed input cannot be detected; they are pinned from now on' });
    state.inputPins = now;
    await store.save(state);
    return;
  }
  const changed = changedInput(state.inputPins, now);
  if (changed) throw new InputError(`${changed}; a resume must read the inputs the run started with: restore it, or start again with --force`);
}

function pinOptions(options: CleanseOptions): PinOptions {
  return { retries: options.source.retries, timeoutMs: options.source.timeoutMs };
}

/** After embedding: the number of classes, and the checks that GSSD can run at all. */
function finishEmbed(state: CleanseState, options: CleanseOptions): void {
  const counts = state.embed.labelCounts;
  const K = options.source.numClasses ?? counts.length;
  state.numClasses = K;
  const usable = trainableClasses(counts, K).filter(Boolean).length;
  if (usable < 2) {
    throw new InputError(
      `${options.inputs[0]}${options.inputs.length > 1 ? ' (and others)' : ''}: GSSD compares classes, and only ${usable} class has ${MIN_CLASS_ROWS} or more usable rows (label counts: ${JSON.stringify(counts)})`,
    );
  }
}

function diffKeys(a: Record<string, unknown>, b: Record<string, unknown>): string {
  const keys = Object.keys({ ...a, ...b }).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
  return keys.map((k) => `${k}: ${JSON.stringify(a[k])} then, ${JSON.stringify(b[k])} now`).join('; ');
}

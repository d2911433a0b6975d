import { rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { FlowBank, type FlowBankState } from '../../src/models/flow-bank.js';
import { FlowBankPool } from '../../src/models/flow-bank-pool.js';
import { loadFlowBankState, saveFlowBankState } from '../../src/models/save.js';
import { RunningStats } from '../../src/stages/standardize.js';
import { flowEpoch } from './flow-epoch.js';
import { embeddingColumns, isEligible, MIN_CLASS_ROWS, trainableClasses } from '../../src/io/work-files.js';
import { fitSampleOf, fitSampleRows, writeFitSample } from '../../src/stages/fit-sample.js';
import { matrixRows } from '../../src/io/matrix-file.js';
import { Progress } from '../../src/progress.js';
import type { RunContext } from './context.js';
import type { CleanseState } from './state.js';
import type { Logger } from '../../src/log.js';
import { replaceDir } from '../../src/replace-dir.js';

/** Where the flow bank after `epochs` epochs is saved. */
export function flowsDir(ctx: RunContext, epochs: number): string {
  return ctx.checkpoint(`flows-e${epochs}`);
}

/**
 * Threads for the flow fit: the wasm and cpu backends compute on one thread under Node, so
 * each core gets a worker; the tensorflow backend is multi-threaded itself.
 */
export function flowWorkerCount(requested: number | undefined, backend: string, numClasses: number): number {
  const auto = backend === 'tensorflow' ? 1 : Math.max(1, availableParallelism());
  return Math.max(1, Math.min(numClasses, requested ?? auto));
}

/**
 * The rows one fit epoch counts (its progress and rows/s): every row of the cache, or with a
 * fit sample (`fitRowsPerClass`) the sampled rows of the classes with a flow.
 *
 * @example
 *   const total = fitEpochRows(state) * options.flowEpochs;
 */
export function fitEpochRows(state: CleanseState): number {
  const fitted = state.fit.rowsFitted;
  if (!fitted) return state.totalRows;
  return fitSampleRows(fitted, trainableClasses(state.embed.labelCounts, state.numClasses ?? fitted.length));
}

/**
 * Warns about a class with a flow whose fit sample has fewer than MIN_CLASS_ROWS rows (a small
 * `--fit-rows-per-class` on a small class can draw none: its flow then stays untrained).
 */
export function warnSmallFitSamples(log: Logger, rowsFitted: number[], labelCounts: number[], numClasses: number, rowsPerClass: number): void {
  const trainable = trainableClasses(labelCounts, numClasses);
  rowsFitted.forEach((n, c) => {
    if (trainable[c] && n < MIN_CLASS_ROWS) {
      log.warn('small fit sample', { label: c, rowsFitted: n, classRows: labelCounts[c], note: `class ${c}'s flow is fitted on ${n} of its ${labelCounts[c]} rows; raise --fit-rows-per-class (${rowsPerClass})` });
    }
  });
}

/**
 * Pass 3 (docs/method.md, step 3): `flowEpochs` epochs over the embedding cache in a seeded,
 * bounded-memory shuffled order; each row (standardised) goes to its class's flow, which
 * takes an Adam step whenever it has `flowBatch` rows. With `fitRowsPerClass`, the rows of the
 * fit sample (`FitSample`) are written once, before the first epoch, to DIR/work/fit-sample.f32
 * (`writeFitSample`: one pass over the cache), and the epochs shuffle that file instead of the
 * cache (written again on resume if it is gone: it is a pure function of the cache and the
 * seed). The classes' flows train on worker threads (`FlowBankPool`, bit-identical to one
 * thread). The flow bank is checkpointed at the end of every epoch (weights, Adam
 * moments), so a resume repeats at most one epoch.
 */
export async function fitPass(ctx: RunContext): Promise<FlowBank> {
  const { options, state } = ctx;
  const d = state.featureDim!;
  const K = state.numClasses!;
  const stats = RunningStats.fromJSON(state.embed.stats!);
  const trainable = trainableClasses(state.embed.labelCounts, K);
  const dirOf = (epochs: number) => flowsDir(ctx, epochs);
  const sample = fitSampleOf(options.fitRowsPerClass, state.embed.labelCounts, options.seed);
  if (sample && !state.fit.rowsFitted) {
    state.fit.rowsFitted = await writeFitSample(ctx.files.embeddings, d, sample, trainable, ctx.files.fitSample);
    ctx.log.info('fit sample', { rowsPerClass: sample.rowsPerClass, rowsFitted: state.fit.rowsFitted });
    warnSmallFitSamples(ctx.log, state.fit.rowsFitted, state.embed.labelCounts, K, sample.rowsPerClass);
    await ctx.commit();
  } else if (sample && state.fit.epochsDone < options.flowEpochs && !(await hasRows(ctx.files.fitSample, embeddingColumns(d), fitEpochRows(state)))) {
    await writeFitSample(ctx.files.embeddings, d, sample, trainable, ctx.files.fitSample); // the same rows: deterministic
  }
  let bankState: FlowBankState =
    state.fit.epochsDone > 0
      ? await loadFlowBankState(dirOf(state.fit.epochsDone))
      : new FlowBank({ numClasses: K, dim: d, batchSize: options.flowBatch, lr: options.flowLr, seed: options.seed }).getState();
  if (state.fit.epochsDone >= options.flowEpochs) return FlowBank.fromState(bankState);
  const workers = flowWorkerCount(options.flowWorkers, state.backend, K);
  const trainer = workers > 1 ? await FlowBankPool.create(bankState, { workers }) : FlowBank.fromState(bankState);
  ctx.log.info('fit', { flowWorkers: workers });
  const perEpoch = fitEpochRows(state);
  const progress = new Progress(ctx.log, 'fit', options.flowEpochs * perEpoch);
  progress.skip(state.fit.epochsDone * perEpoch);
  // the sample file holds only eligible rows; the cache has rejected rows and those of classes without a flow
  const [rows, file] = sample ? [perEpoch, ctx.files.fitSample] : [state.totalRows, ctx.files.embeddings];
  const accept = (label: number) => isEligible(label, trainable);
  try {
    for (let epoch = state.fit.epochsDone; epoch < options.flowEpochs; epoch++) {
      await flowEpoch(trainer, file, d, rows, stats, options.seed, epoch, accept, (read) => progress.add(read));
      bankState = await trainer.getState();
      // a new directory per epoch: the state names the last complete one, whatever the crash point
      await replaceDir(dirOf(epoch + 1), (tmp) => saveFlowBankState(bankState, tmp));
      state.fit.epochsDone = epoch + 1;
      await ctx.commit();
      await rm(dirOf(epoch), { recursive: true, force: true });
      ctx.log.info('fit epoch', { epoch: epoch + 1, of: options.flowEpochs });
    }
  } finally {
    if (trainer instanceof FlowBankPool) await trainer.close();
    else trainer.dispose();
  }
  progress.done();
  return FlowBank.fromState(bankState);
}

/** Whether the matrix file `path` is there with `rows` rows of `cols` columns. */
async function hasRows(path: string, cols: number, rows: number): Promise<boolean> {
  try {
    return (await matrixRows(path, cols)) === rows;
  } catch {
    return false;
  }
}

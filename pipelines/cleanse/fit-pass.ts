import { rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { FlowBank, type FlowBankState } from '../../src/models/flow-bank.js';
import { FlowBankPool } from '../../src/models/flow-bank-pool.js';
import { loadFlowBankState, saveFlowBankState } from '../../src/models/save.js';
import { RunningStats } from '../../src/stages/standardize.js';
import { flowEpoch } from './flow-epoch.js';
import { isEligible, trainableClasses } from '../../src/io/work-files.js';
import { Progress } from '../../src/progress.js';
import type { RunContext } from './context.js';
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
 * Pass 3 (docs/method.md, step 3): `flowEpochs` epochs over the embedding cache in a seeded,
 * bounded-memory shuffled order; each row (standardised) goes to its class's flow, which
 * takes an Adam step whenever it has `flowBatch` rows. The classes' flows train on worker
 * threads (`FlowBankPool`, bit-identical to one thread). The flow bank is checkpointed at
 * the end of every epoch (weights, Adam moments), so a resume repeats at most one epoch.
 */
export async function fitPass(ctx: RunContext): Promise<FlowBank> {
  const { options, state } = ctx;
  const d = state.featureDim!;
  const K = state.numClasses!;
  const stats = RunningStats.fromJSON(state.embed.stats!);
  const trainable = trainableClasses(state.embed.labelCounts, K);
  const dirOf = (epochs: number) => flowsDir(ctx, epochs);
  let bankState: FlowBankState =
    state.fit.epochsDone > 0
      ? await loadFlowBankState(dirOf(state.fit.epochsDone))
      : new FlowBank({ numClasses: K, dim: d, batchSize: options.flowBatch, lr: options.flowLr, seed: options.seed }).getState();
  if (state.fit.epochsDone >= options.flowEpochs) return FlowBank.fromState(bankState);
  const workers = flowWorkerCount(options.flowWorkers, state.backend, K);
  const trainer = workers > 1 ? await FlowBankPool.create(bankState, { workers }) : FlowBank.fromState(bankState);
  ctx.log.info('fit', { flowWorkers: workers });
  const progress = new Progress(ctx.log, 'fit', options.flowEpochs * state.totalRows);
  progress.skip(state.fit.epochsDone * state.totalRows);
  try {
    for (let epoch = state.fit.epochsDone; epoch < options.flowEpochs; epoch++) {
      const accept = (label: number) => isEligible(label, trainable);
      await flowEpoch(trainer, ctx.files.embeddings, d, state.totalRows, stats, options.seed, epoch, accept, (n) => progress.add(n));
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

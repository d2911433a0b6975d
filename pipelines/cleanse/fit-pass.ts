import { rename, rm } from 'node:fs/promises';
import { FlowBank } from '../../src/models/flow-bank.js';
import { loadFlowBank, saveFlowBank } from '../../src/models/save.js';
import { RunningStats } from '../../src/stages/standardize.js';
import { shuffledEpoch } from '../../src/stages/shuffle.js';
import { Rng } from '../../src/rng.js';
import { Progress } from '../../src/progress.js';
import { cacheColumns } from './embed-pass.js';
import type { RunContext } from './context.js';

/** Classes with fewer rows than this get no flow: their rows go to `uncertain`. */
export const MIN_CLASS_ROWS = 2;

/** Which classes can have a flow (enough rows). */
export function trainableClasses(labelCounts: number[], numClasses: number): boolean[] {
  return Array.from({ length: numClasses }, (_, c) => (labelCounts[c] ?? 0) >= MIN_CLASS_ROWS);
}

/** Where the flow bank after `epochs` epochs is saved. */
export function flowsDir(ctx: RunContext, epochs: number): string {
  return ctx.checkpoint(`flows-e${epochs}`);
}

/**
 * Pass 3 (METHOD.md step 3): `flowEpochs` epochs over the embedding cache in a seeded,
 * bounded-memory shuffled order; each row (standardised) goes to its class's flow, which
 * takes an Adam step whenever it has `flowBatch` rows. The flow bank is checkpointed at the
 * end of every epoch (weights, Adam moments), so a resume repeats at most one epoch.
 */
export async function fitPass(ctx: RunContext): Promise<FlowBank> {
  const { options, state } = ctx;
  const d = state.featureDim!;
  const K = state.numClasses!;
  const cols = cacheColumns(d);
  const stats = RunningStats.fromJSON(state.embed.stats!);
  const std = stats.std();
  const trainable = trainableClasses(state.embed.labelCounts, K);
  const dirOf = (epochs: number) => flowsDir(ctx, epochs);
  const bank =
    state.fit.epochsDone > 0
      ? await loadFlowBank(dirOf(state.fit.epochsDone))
      : new FlowBank({ numClasses: K, dim: d, batchSize: options.flowBatch, lr: options.flowLr, seed: options.seed });
  const progress = new Progress(ctx.log, 'fit', options.flowEpochs * state.totalRows);
  progress.add(state.fit.epochsDone * state.totalRows);
  for (let epoch = state.fit.epochsDone; epoch < options.flowEpochs; epoch++) {
    const rng = new Rng(`${options.seed}:fit:${epoch}`);
    for await (const chunk of shuffledEpoch(ctx.work('embeddings.f32'), cols, state.totalRows, rng)) {
      const keep: number[] = [];
      for (let k = 0; k < chunk.n; k++) {
        const label = chunk.rows[k * cols + d];
        if (label >= 0 && trainable[label]) keep.push(k);
      }
      const h = new Float32Array(keep.length * d);
      const labels = new Int32Array(keep.length);
      keep.forEach((k, j) => {
        h.set(chunk.rows.subarray(k * cols, k * cols + d), j * d);
        labels[j] = chunk.rows[k * cols + d];
      });
      bank.update(stats.standardize(h, keep.length, std), labels);
      progress.add(chunk.n);
    }
    bank.endEpoch();
    // a new directory per epoch: the state names the last complete one, whatever the crash point
    await rm(`${dirOf(epoch + 1)}.tmp`, { recursive: true, force: true });
    await saveFlowBank(bank, `${dirOf(epoch + 1)}.tmp`);
    await rm(dirOf(epoch + 1), { recursive: true, force: true });
    await rename(`${dirOf(epoch + 1)}.tmp`, dirOf(epoch + 1));
    state.fit.epochsDone = epoch + 1;
    await ctx.commit();
    await rm(dirOf(epoch), { recursive: true, force: true });
    ctx.log.info('fit epoch', { epoch: epoch + 1, of: options.flowEpochs });
  }
  progress.done();
  return bank;
}

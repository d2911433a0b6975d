/**
 * Scoring throughput of the per-class flows: `FlowBank.logProb` on TensorFlow.js's wasm
 * backend (one thread) against `OnnxFlowScorer.logProb` (onnxruntime-node, one intra-op
 * thread per core), for a K = 10 bank and a single flow (K = 1, comparable with PyTorch's
 * `flow_score_vectors_per_s` of torch_ref.py: 61,000 vectors/s with 2 threads on the 2-core
 * machine of docs/architecture.md), D = 512, 4096 rows per call.
 *
 *   tsc -p tsconfig.json --outDir .bench-build && node .bench-build/bench/flow-score.js \
 *     [--seconds 10] [--rounds 3] [--rows 4096] [--classes 10] [--layouts per-flow,batched]
 *     [--chunks 1024] [--spinning on,off] [--threads N] [--no-wasm]
 *
 * Every figure is measured once per round, the rounds one after the other (other load on the
 * machine comes and goes): prints each measurement, then per figure the best, the worst and
 * the spread ((best - worst) / best), by the wall clock and by this process's CPU time.
 * Figures are vectors x classes per second (for K = 1: vectors per second).
 */
import { availableParallelism, loadavg } from 'node:os';
import { initBackend } from '../src/models/backend.js';
import { FlowBank } from '../src/models/flow-bank.js';
import type { FlowGraphLayout } from '../src/models/onnx-flow.js';
import { OnnxFlowScorer } from '../src/models/onnx-flow-scorer.js';
import { Rng } from '../src/rng.js';
import { measure, type Rate } from './lib/rate.js';
import { arg } from './lib/args.js';

/** PyTorch 2 threads, one flow (D = 512, 2 steps), 4096 rows per call, this machine idle. */
const TORCH_FLOW_SCORE = 61_000;

/** A bank with a few optimiser steps per class (ActNorm initialised, couplings non-zero). */
function bank(K: number, D: number, rng: Rng): FlowBank {
  const b = new FlowBank({ numClasses: K, dim: D, batchSize: 16, seed: 0 });
  const n = 16 * K * 4;
  const x = Float32Array.from({ length: n * D }, () => rng.normal());
  b.update(x, Int32Array.from({ length: n }, (_, i) => i % K));
  b.endEpoch();
  return b;
}

async function main(): Promise<void> {
  const seconds = Number(arg('seconds', '10'));
  const rounds = Number(arg('rounds', '3'));
  const rows = Number(arg('rows', '4096'));
  const classes = Number(arg('classes', '10'));
  const layouts = arg('layouts', 'per-flow,batched').split(',') as FlowGraphLayout[];
  const chunks = arg('chunks', '1024').split(',').map(Number);
  const spinnings = arg('spinning', 'on,off').split(',');
  const threads = Number(arg('threads', String(availableParallelism())));
  const withWasm = !process.argv.includes('--no-wasm');
  const D = 512;
  const backend = await initBackend('wasm');
  console.log(`tfjs backend ${backend}; onnxruntime ${threads} intra-op threads; D ${D}, ${rows} rows per call, ${seconds} s per figure, ${rounds} rounds; load ${loadavg()[0].toFixed(2)}`);
  const rng = new Rng(1);
  const x = Float32Array.from({ length: rows * D }, () => rng.normal());

  // one entry per figure: how to open it, how to run one call, how to close it
  interface Figure {
    name: string;
    K: number;
    open: () => Promise<() => unknown>;
    close: () => Promise<void>;
  }
  const figures: Figure[] = [];
  for (const K of [classes, 1]) {
    const b = bank(K, D, rng);
    if (withWasm) figures.push({ name: `wasm_k${K}`, K, open: async () => () => b.logProb(x, rows), close: async () => {} });
    for (const layout of layouts) {
      for (const chunk of chunks) {
        for (const spin of spinnings) {
          let scorer: OnnxFlowScorer | undefined;
          figures.push({
            name: `onnx_${layout}_chunk${chunk}_spin-${spin}_k${K}`,
            K,
            open: async () => {
              scorer = await OnnxFlowScorer.create(b, { provider: 'cpu', threads, layout, chunk, spinning: spin === 'on' });
              return () => scorer!.logProb(x, rows);
            },
            close: async () => {
              await scorer?.close();
              scorer = undefined;
            },
          });
        }
      }
    }
  }

  const results = new Map<string, Rate[]>();
  for (let r = 0; r < rounds; r++) {
    for (const f of figures) {
      const run = await f.open();
      const rate = await measure(run, rows * f.K, seconds);
      await f.close();
      results.set(f.name, [...(results.get(f.name) ?? []), rate]);
      console.log(`round ${r + 1} ${f.name} ${rate.perSecond.toFixed(0)}  (by CPU time ${rate.perCpuSecond.toFixed(0)}, load ${rate.load.toFixed(2)})`);
    }
  }

  const best = (name: string): number => Math.max(...(results.get(name) ?? []).map((v) => v.perSecond));
  console.log('\n| figure | best (wall) | worst (wall) | spread | best per CPU-second | vs wasm (best) | vs PyTorch 61,000 (K=1) |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const f of figures) {
    const list = results.get(f.name)!;
    const wall = list.map((v) => v.perSecond);
    const cpu = list.map((v) => v.perCpuSecond);
    const hi = Math.max(...wall);
    const lo = Math.min(...wall);
    const wasm = results.has(`wasm_k${f.K}`) ? best(`wasm_k${f.K}`) : NaN;
    const vsWasm = f.name.startsWith('wasm') || !Number.isFinite(wasm) ? '-' : `${(hi / wasm).toFixed(2)}x`;
    const vsTorch = f.K === 1 ? `${(hi / TORCH_FLOW_SCORE).toFixed(2)}x` : '-';
    console.log(`| ${f.name} | ${hi.toFixed(0)} | ${lo.toFixed(0)} | ${(((hi - lo) / hi) * 100).toFixed(1)}% | ${Math.max(...cpu).toFixed(0)} | ${vsWasm} | ${vsTorch} |`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

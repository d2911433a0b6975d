/**
 * Throughput of the model kernels on the backend `initBackend` picks and of the training steps
 * on ONNX Runtime (the default training runtime), next to the PyTorch references
 * (`../shared/bench/torch_ref.py`, `bench/torch_classifier_ref.py`, run on the same machine,
 * one after the other, after ours), and the peak RSS of a real `gssd pretrain` (`--rss-width`).
 *
 *   tsc -p tsconfig.json --outDir .bench-build && node .bench-build/bench/models.js \
 *     [--backend auto|wasm|cpu|tensorflow] [--seconds 10] [--widths 16,32,64] [--batch 256]
 *     [--simclr-batch N] [--train-batch 128] [--threads 2] [--rss-width 64] [--workers N]
 *     [--only flow|encoder|train] [--no-torch]
 *
 * The SimCLR step keeps every activation of two views for the backward pass, and the wasm
 * heap stops at 4 GB: its batch defaults to min(256, 2048 / width) (128 at width 16, 64 at
 * 32, 32 at 64). Images per second hardly depend on the batch at these sizes.
 *
 * Prints one `name value` line per figure (images/s or vectors/s), then a table of ratios.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendName } from '../src/models/backend.js';
import { Flow } from '../src/models/flow.js';
import { FlowBank } from '../src/models/flow-bank.js';
import { FlowBankPool } from '../src/models/flow-bank-pool.js';
import { EmbedPool } from '../src/models/embed-pool.js';
import { ResNet } from '../src/models/resnet.js';
import { SimclrTrainer } from '../src/models/simclr.js';
import { ParallelSimclr } from '../src/models/simclr-parallel.js';
import { openFlowScorer } from '../src/models/flow-scorer.js';
import { OnnxEncoder } from '../src/models/onnx-encoder.js';
import { exportResNetToOnnx } from '../src/models/onnx-export.js';
import { Rng } from '../src/rng.js';
import { OnnxSimclr } from '../src/models/onnx-simclr.js';
import { OnnxClassifier } from '../src/models/onnx-classifier.js';
import { measure } from './lib/rate.js';
import { pretrainPeakRss } from './lib/pretrain-peak-rss.js';
import { arg } from './lib/args.js';

/** Per-figure rate by CPU time of this process (our backends run on one thread). */
const cpuRates: Record<string, number> = {};
let lastCpuRate = 0;

/**
 * Items per second of `fn` (which handles `items` items per call) by the wall clock: one
 * warm-up call, then at least one timed call. Also records the rate by this process's CPU
 * time, which other load on the machine disturbs much less.
 */
function rate(fn: () => void, items: number, seconds: number): number {
  fn();
  let n = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  do {
    fn();
    n += items;
  } while (performance.now() - t0 < seconds * 1000);
  const cpu = process.cpuUsage(c0);
  lastCpuRate = n / ((cpu.user + cpu.system) / 1e6);
  return n / ((performance.now() - t0) / 1000);
}

/** Items per second of an async `fn` by the wall clock (one warm-up call; worker threads or
 *  ONNX Runtime's own threads do the work, so no CPU-time figure). */
async function rateAsync(fn: () => Promise<unknown>, items: number, seconds: number): Promise<number> {
  await fn();
  let n = 0;
  const t0 = performance.now();
  do {
    await fn();
    n += items;
  } while (performance.now() - t0 < seconds * 1000);
  return n / ((performance.now() - t0) / 1000);
}

/** PyTorch figures of docs/architecture.md, measured on this machine when it was otherwise idle. */
const DESIGN_REFERENCE: Record<string, number> = {
  flow_train_b16_vectors_per_s: 1300,
  flow_train_b256_vectors_per_s: 7700,
  flow_score_vectors_per_s: 20000,
  embed_w32: 214,
  embed_w64: 103,
  simclr_w32: 56,
  simclr_w64: 11,
};

function randn(rng: Rng, n: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = rng.normal();
  return x;
}

function report(results: Record<string, number>, name: string, value: number): void {
  results[name] = value;
  cpuRates[name] = lastCpuRate;
  console.log(`${name} ${value.toFixed(1)}  (by CPU time ${lastCpuRate.toFixed(1)})`);
}

/** The reference's figures, or undefined when python3-torch is missing. */
async function torchRef(width: number, batch: number, seconds: number): Promise<Record<string, number> | undefined> {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [resolve(here, '../../shared/bench/torch_ref.py'), resolve(here, '../../../shared/bench/torch_ref.py'), resolve(process.cwd(), '../shared/bench/torch_ref.py')];
  const script = candidates.find((p) => existsSync(p));
  if (!script) {
    console.log('torch: skipped (torch_ref.py not found)');
    return undefined;
  }
  try {
    const { stdout } = await promisify(execFile)('/usr/bin/python3', [script, '--width', String(width), '--batch', String(batch), '--seconds', String(seconds)], {
      maxBuffer: 1 << 20,
    });
    const out: Record<string, number> = {};
    for (const m of stdout.matchAll(/^(\w+) ([\d.]+)/gm)) out[m[1]] = Number(m[2]);
    return out;
  } catch (err) {
    console.log(`torch: skipped (${(err as Error).message.split('\n')[0]}; install python3-torch and libopenblas0-pthread)`);
    return undefined;
  }
}

/** bench/torch_classifier_ref.py's rate (the classifier step in PyTorch), or undefined without torch. */
async function torchClassifierRef(width: number, batch: number, seconds: number): Promise<number | undefined> {
  const script = resolve(dirname(fileURLToPath(import.meta.url)), '../../bench/torch_classifier_ref.py');
  try {
    const { stdout } = await promisify(execFile)('/usr/bin/python3', [script, '--width', String(width), '--batch', String(batch), '--seconds', String(seconds), '--threads', arg('threads', '2')], { maxBuffer: 1 << 20 });
    const m = /classifier_train_images_per_s ([\d.]+)/.exec(stdout);
    return m ? Number(m[1]) : undefined;
  } catch (err) {
    console.log(`torch classifier: skipped (${(err as Error).message.split('\n')[0]})`);
    return undefined;
  }
}

async function main(): Promise<void> {
  const backend = await initBackend(arg('backend', 'auto') as BackendName);
  const seconds = Number(arg('seconds', '10'));
  const only = arg('only', '');
  const widths = arg('widths', '16,32,64').split(',').map(Number);
  const batch = Number(arg('batch', '256'));
  const withTorch = !process.argv.includes('--no-torch');
  console.log(`backend ${backend}, batch ${batch}, ${seconds} s per figure`);
  const rng = new Rng(0);
  const ours: Record<string, number> = {};

  if (!only || only === 'flow') {
    const flow = new Flow({ dim: 512, seed: 0 });
    for (const b of [16, 256]) {
      const v = randn(rng, b * 512);
      report(ours, `flow_train_b${b}_vectors_per_s`, rate(() => flow.trainStep(v, b), b, seconds / 2));
    }
    const v = randn(rng, 4096 * 512);
    report(ours, 'flow_score_vectors_per_s', rate(() => flow.logProb(v, 4096), 4096, seconds / 2));
    flow.dispose();
    // the runtime `gssd cleanse` scores with (--score-runtime auto): the flow exported to ONNX
    const one = new FlowBank({ numClasses: 1, dim: 512, seed: 0 });
    const scorer = await openFlowScorer(one, 'auto');
    ours.flow_score_runtime_vectors_per_s = await rateAsync(() => scorer.logProb(v, 4096), 4096, seconds / 2);
    console.log(`flow_score_runtime_vectors_per_s ${ours.flow_score_runtime_vectors_per_s.toFixed(1)}  (${scorer.runtime})`);
    await scorer.close();
    one.dispose();
    // the real workload: a 10-class bank fed a shuffled stream, batch 16 per class
    const bank = new FlowBank({ numClasses: 10, dim: 512, batchSize: 16, seed: 0 });
    const n = 1600;
    const rows = randn(rng, n * 512);
    const labels = Int32Array.from({ length: n }, () => rng.int(10));
    report(ours, 'flowbank_train_b16_vectors_per_s', rate(() => bank.update(rows, labels), n, seconds / 2));
    report(ours, 'flowbank_score_vectors_x_classes_per_s', rate(() => bank.logProb(rows, n), n * 10, seconds / 2));
    bank.dispose();
    // the same on worker threads (FlowBankPool: classes spread over the cores, bit-identical)
    for (const b of [16, 256]) {
      const pool = await FlowBankPool.create(new FlowBank({ numClasses: 10, dim: 512, batchSize: b, seed: 0 }).getState(), { workers: Number(arg('workers', '0')) || undefined });
      await pool.update(rows, labels);
      await pool.getState();
      let done = 0;
      const t0 = performance.now();
      do {
        await pool.update(rows, labels);
        done += n;
      } while (performance.now() - t0 < (seconds / 2) * 1000);
      await pool.getState(); // every queued update finished
      const key = `flowbank_pool_train_b${b}_vectors_per_s`;
      ours[key] = done / ((performance.now() - t0) / 1000);
      console.log(`${key} ${ours[key].toFixed(1)}  (${pool.size} worker threads)`);
      await pool.close();
    }
  }

  const torchByWidth = new Map<number, Record<string, number>>();
  // training on ONNX Runtime (what gssd pretrain and gssd train run by default): two warm-up
  // steps (the memory arena grows in them), then steps until `seconds` have passed
  const threads = Number(arg('threads', '2'));
  const trainBatch = Number(arg('train-batch', '128'));
  if (!only || only === 'train') {
    for (const w of widths) {
      const sim = await OnnxSimclr.create(
        { encoder: { width: w, imageSize: 32, stem: 'cifar', seed: 0 }, simclr: { projDim: 128, temperature: 0.5, lr: 3e-4, seed: 1 } },
        null,
        { device: 'cpu', threads },
      );
      const views = randn(rng, 2 * batch * 32 * 32 * 3);
      const r = await measure(() => sim.step(views, batch), batch, seconds, 2);
      ours[`simclr_onnx_w${w}_images_per_s`] = r.perSecond;
      cpuRates[`simclr_onnx_w${w}_images_per_s`] = r.perCpuSecond;
      console.log(`simclr_onnx_w${w}_images_per_s ${r.perSecond.toFixed(1)}  (batch ${batch} pairs, ${threads} threads, load ${r.load.toFixed(2)})`);
      await sim.close();
      // --memory low: one view at a time, checkpointed blocks (onnx-simclr-split.ts)
      const low = await OnnxSimclr.create(
        { encoder: { width: w, imageSize: 32, stem: 'cifar', seed: 0 }, simclr: { projDim: 128, temperature: 0.5, lr: 3e-4, seed: 1 } },
        null,
        { device: 'cpu', threads, memory: 'low' },
      );
      const rl = await measure(() => low.step(views, batch), batch, seconds, 2);
      ours[`simclr_onnx_low_w${w}_images_per_s`] = rl.perSecond;
      cpuRates[`simclr_onnx_low_w${w}_images_per_s`] = rl.perCpuSecond;
      console.log(`simclr_onnx_low_w${w}_images_per_s ${rl.perSecond.toFixed(1)}  (--memory low, load ${rl.load.toFixed(2)})`);
      await low.close();
      const clf = await OnnxClassifier.create(
        { numClasses: 10, width: w, imageSize: 32, stem: 'cifar', seed: 0, momentum: 0.9, weightDecay: 5e-4, decay: 'weights' },
        null,
        { device: 'cpu', threads },
      );
      const images = randn(rng, trainBatch * 32 * 32 * 3);
      const labels = Int32Array.from({ length: trainBatch }, (_, i) => i % 10);
      const c = await measure(() => clf.step(images, labels, 0.1), trainBatch, seconds, 2);
      ours[`classifier_onnx_w${w}_images_per_s`] = c.perSecond;
      cpuRates[`classifier_onnx_w${w}_images_per_s`] = c.perCpuSecond;
      console.log(`classifier_onnx_w${w}_images_per_s ${c.perSecond.toFixed(1)}  (batch ${trainBatch}, ${threads} threads, load ${c.load.toFixed(2)})`);
      await clf.close();
    }
    const rssWidth = Number(arg('rss-width', '64'));
    for (const memory of ['fast', 'low'] as const) {
      const rss = await pretrainPeakRss(rssWidth, batch, threads, memory);
      const key = `pretrain_${memory === 'low' ? 'low_' : ''}w${rssWidth}_peak_rss_mb`;
      if (typeof rss === 'number') {
        ours[key] = rss;
        console.log(`${key} ${rss.toFixed(0)}  (gssd pretrain --memory ${memory}, batch ${batch}, 2 steps, a child process)`);
      } else console.log(`pretrain peak RSS (--memory ${memory}): skipped (${rss.skipped})`);
    }
  }
  if (!only || only === 'encoder') {
    for (const w of widths) {
      const net = new ResNet({ width: w, imageSize: 32, seed: 0 });
      const x = tf.tensor4d(randn(rng, batch * 32 * 32 * 3), [batch, 32, 32, 3]);
      const x2 = tf.tensor4d(randn(rng, batch * 32 * 32 * 3), [batch, 32, 32, 3]);
      report(
        ours,
        `embed_w${w}_images_per_s`,
        rate(() => tf.tidy(() => net.apply(x, false).dataSync()), batch, seconds),
      );
      // every core: worker threads, each with its own wasm backend (wall clock only)
      const pixels = Uint8Array.from({ length: batch * 32 * 32 * 3 }, () => rng.int(256));
      // the runtime `gssd cleanse` embeds with (ONNX Runtime, the encoder exported)
      const onnx = await OnnxEncoder.load(exportResNetToOnnx(net), { batchSize: batch });
      ours[`embed_runtime_w${w}_images_per_s`] = await rateAsync(() => onnx.embed(pixels, batch), batch, seconds);
      console.log(`embed_runtime_w${w}_images_per_s ${ours[`embed_runtime_w${w}_images_per_s`].toFixed(1)}  (onnx-${onnx.provider})`);
      await onnx.close();
      const pool = await EmbedPool.create(net, { workers: Number(arg('workers', '0')) || undefined });
      ours[`embed_pool_w${w}_images_per_s`] = await rateAsync(() => pool.embed(pixels, batch), batch, seconds);
      await pool.close();
      console.log(`embed_pool_w${w}_images_per_s ${ours[`embed_pool_w${w}_images_per_s`].toFixed(1)}  (${pool.size} worker threads, uint8 pixels in)`);
      const sb = Number(arg('simclr-batch', String(Math.min(batch, Math.floor(2048 / w)))));
      const v1 = tf.slice(x, 0, sb);
      const v2 = tf.slice(x2, 0, sb);
      const trainer = new SimclrTrainer(net, { seed: 0 });
      report(ours, `simclr_w${w}_b${sb}_images_per_s`, rate(() => trainer.step(v1, v2), sb, seconds));
      ours[`simclr_w${w}_images_per_s`] = ours[`simclr_w${w}_b${sb}_images_per_s`];
      cpuRates[`simclr_w${w}_images_per_s`] = cpuRates[`simclr_w${w}_b${sb}_images_per_s`];
      v1.dispose();
      v2.dispose();
      // data-parallel on worker threads, 2 shards (each shard's activations on its own wasm heap)
      const pb = Math.min(batch, 2 * sb);
      const p1 = tf.slice(x, 0, pb);
      const p2 = tf.slice(x2, 0, pb);
      const fresh = new SimclrTrainer(new ResNet({ width: w, imageSize: 32, seed: 0 }), { seed: 0 });
      const par = await ParallelSimclr.create(fresh, { shards: 2 });
      const parKey = `simclr_parallel_w${w}_images_per_s`;
      ours[parKey] = await rateAsync(() => par.step(p1, p2), pb, seconds);
      console.log(`${parKey} ${ours[parKey].toFixed(1)}  (batch ${pb}, 2 shards on ${par.threads} worker threads)`);
      await par.close();
      fresh.dispose();
      fresh.encoder.dispose();
      tf.dispose([p1, p2]);
      trainer.dispose();
      net.dispose();
      x.dispose();
      x2.dispose();
      console.log(`tensors ${tf.memory().numTensors}`);
    }
  }

  if (withTorch) {
    // run after ours, one at a time: torch's two OpenMP threads slow down badly when other
    // processes hold a core
    const list = only === 'flow' ? [widths[0]] : widths;
    for (const w of list) {
      const t = await torchRef(w, batch, seconds);
      if (!t) break;
      if (!only || only === 'train') {
        const c = await torchClassifierRef(w, trainBatch, seconds);
        if (c !== undefined) t.classifier_train_images_per_s = c;
      }
      torchByWidth.set(w, t);
      for (const [k, v] of Object.entries(t)) console.log(`torch_w${w}_${k} ${v}`);
    }
  }
  const first = torchByWidth.values().next().value as Record<string, number> | undefined;
  const rows: [string, string, string | undefined, string, number][] = [
    ['flow train b16 (vectors/s)', 'flow_train_b16_vectors_per_s', 'flow_train_b16_vectors_per_s', 'flow_train_b16_vectors_per_s', 1],
    ['flow train b256 (vectors/s)', 'flow_train_b256_vectors_per_s', 'flow_train_b256_vectors_per_s', 'flow_train_b256_vectors_per_s', 1],
    ['flow score (vectors/s)', 'flow_score_vectors_per_s', 'flow_score_vectors_per_s', 'flow_score_vectors_per_s', 1],
    ['flow score, ONNX Runtime as `gssd cleanse` scores (vectors/s)', 'flow_score_runtime_vectors_per_s', 'flow_score_vectors_per_s', 'flow_score_vectors_per_s', 1],
    ['flow bank train b16 (vectors/s)', 'flowbank_train_b16_vectors_per_s', 'flow_train_b16_vectors_per_s', 'flow_train_b16_vectors_per_s', 1],
    ['flow bank train b16, FlowBankPool (vectors/s)', 'flowbank_pool_train_b16_vectors_per_s', 'flow_train_b16_vectors_per_s', 'flow_train_b16_vectors_per_s', 1],
    ['flow bank train b256, FlowBankPool (vectors/s)', 'flowbank_pool_train_b256_vectors_per_s', 'flow_train_b256_vectors_per_s', 'flow_train_b256_vectors_per_s', 1],
  ];
  for (const w of widths) {
    rows.push([`encoder forward w${w} (images/s)`, `embed_w${w}_images_per_s`, 'embed_images_per_s', `embed_w${w}`, 0.5]);
    rows.push([`encoder forward w${w}, EmbedPool (images/s)`, `embed_pool_w${w}_images_per_s`, 'embed_images_per_s', `embed_w${w}`, 0.5]);
    rows.push([`encoder forward w${w}, ONNX Runtime as \`gssd cleanse\` embeds (images/s)`, `embed_runtime_w${w}_images_per_s`, 'embed_images_per_s', `embed_w${w}`, 0.5]);
    rows.push([`SimCLR step w${w} (images/s)`, `simclr_w${w}_images_per_s`, 'simclr_train_images_per_s', `simclr_w${w}`, 0.3]);
    rows.push([`SimCLR step w${w}, ParallelSimclr (images/s)`, `simclr_parallel_w${w}_images_per_s`, 'simclr_train_images_per_s', `simclr_w${w}`, 0.3]);
    rows.push([`SimCLR step w${w}, ONNX Runtime as \`gssd pretrain\` trains (images/s)`, `simclr_onnx_w${w}_images_per_s`, 'simclr_train_images_per_s', `simclr_w${w}`, 1.2]);
    rows.push([`SimCLR step w${w}, ONNX Runtime \`--memory low\` (images/s)`, `simclr_onnx_low_w${w}_images_per_s`, 'simclr_train_images_per_s', `simclr_w${w}`, 1.2]);
    rows.push([`classifier step w${w} b${trainBatch}, ONNX Runtime as \`gssd train\` trains (images/s)`, `classifier_onnx_w${w}_images_per_s`, 'classifier_train_images_per_s', `classifier_w${w}`, 1.2]);
  }
  const table = ['| work | ours (wall) | ours (CPU time) | PyTorch same run | ratio | PyTorch docs/architecture.md | ratio (wall) | ratio (CPU time) | target |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- |'];
  const f = (v: number | undefined, digits = 0) => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits));
  for (const [name, key, torchKey, refKey, target] of rows) {
    const o = ours[key];
    if (o === undefined) continue;
    const w = /w(\d+)/.exec(key)?.[1];
    const same = w ? torchByWidth.get(Number(w))?.[torchKey!] : first?.[torchKey!];
    const ref = DESIGN_REFERENCE[refKey];
    const cpu = cpuRates[key];
    table.push(
      `| ${name} | ${f(o)} | ${f(cpu)} | ${f(same)} | ${same ? f(o / same, 2) + 'x' : '-'} | ${f(ref)} | ${ref ? f(o / ref, 2) + 'x' : '-'} | ${ref && cpu ? f(cpu / ref, 2) + 'x' : '-'} | ${target}x |`,
    );
  }
  for (const rssKey of Object.keys(ours).filter((k) => k.startsWith('pretrain_') && k.endsWith('_peak_rss_mb'))) {
    const memory = rssKey.startsWith('pretrain_low_') ? 'low' : 'fast';
    table.push(`| peak RSS of \`gssd pretrain --memory ${memory}\` ${/w\d+/.exec(rssKey)![0]}, batch ${batch} (MB) | ${f(ours[rssKey])} | - | - | - | - | - | - | < 1500 |`);
  }
  console.log(`\n${table.join('\n')}`);
  const date = new Date().toISOString();
  const load = loadavg()[0].toFixed(2);
  await mkdir('bench/results', { recursive: true });
  const name = only ? `models-${only}` : 'models'; // a partial run does not overwrite the full table
  await writeFile(`bench/results/${name}.json`, JSON.stringify({ date, backend, batch, seconds, load, ours, oursByCpuTime: cpuRates, torch: Object.fromEntries(torchByWidth) }, null, 1));
  await writeFile(
    `bench/results/${name}.md`,
    [
      `# Model kernels on TF.js (${backend}) and training on ONNX Runtime (CPU, ${threads} threads) vs PyTorch CPU (${date})`,
      '',
      `Command: \`npm run bench:models${only ? ` -- --only ${only}` : ''}\` (${seconds} s per figure, batch ${batch}; PyTorch: \`${'/usr/bin/python3 ../shared/bench/torch_ref.py'} --width W --batch ${batch}\`${!only || only === 'train' ? ` and \`bench/torch_classifier_ref.py --width W --batch ${trainBatch} --threads ${threads}\`` : ''} in the same run, after ours). Load average at the end: ${load}.`,
      '"CPU time" divides by this process\'s CPU time (all threads); the worker-thread figures (EmbedPool, FlowBankPool, ParallelSimclr) and the ONNX Runtime ones are wall clock only.',
      '',
      ...table,
      '',
    ].join('\n'),
  );
}

await main();

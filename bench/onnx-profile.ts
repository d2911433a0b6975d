/**
 * Per-operator time split of one training-step graph on onnxruntime (its profiler), to find
 * what to speed up.
 *
 *   npm run bench:build && node .bench-build/bench/onnx-profile.js [--graph simclr|classifier] [--width 16] [--batch 256] [--threads 2] [--steps 2]
 *
 * `--batch` is pairs for SimCLR, images for the classifier.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import type * as Ort from 'onnxruntime-node';
import { loadOnnxRuntime } from '../src/models/onnx-runtime.js';
import { simclrStepGraph } from '../src/models/onnx-simclr-graph.js';
import { classifierStepGraph } from '../src/models/onnx-classifier-graph.js';
import { SIMCLR_ADAM } from '../src/models/onnx-simclr.js';
import { resnetLayout } from '../src/models/resnet-layout.js';
import { Rng } from '../src/rng.js';
import { arg } from './lib/args.js';

const ort = await loadOnnxRuntime('onnx-profile bench');

const width = Number(arg('width', '16'));
const n = Number(arg('batch', '256'));
const threads = Number(arg('threads', '2'));
const steps = Number(arg('steps', '2'));
const layout = resnetLayout({ width, imageSize: 32, seed: 0 });
const t0 = performance.now();
const kind = arg('graph', 'simclr');
if (kind !== 'simclr' && kind !== 'classifier') throw new Error(`--graph: simclr or classifier, got ${kind}`);
const graph = kind === 'simclr' ? simclrStepGraph(layout, n, { projDim: 128, temperature: 0.5, adam: SIMCLR_ADAM }) : classifierStepGraph(layout, n, { numClasses: 10, momentum: 0.9, weightDecay: 5e-4, decay: 'weights' });
console.log(`graph built in ${(performance.now() - t0).toFixed(0)} ms, ${(graph.bytes.length / 1e6).toFixed(1)} MB`);
const t1 = performance.now();
const session = await ort.InferenceSession.create(graph.bytes, {
  graphOptimizationLevel: (arg('opt', 'all') as 'all'),
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  enableProfiling: !process.argv.includes('--no-profile'),
  enableCpuMemArena: arg('arena', '1') === '1',
  enableMemPattern: arg('pattern', '1') === '1',
  extra: { session: { intra_op: { allow_spinning: arg('spin', '1') } } },
  profileFilePrefix: '/tmp/gssd-ort-profile',
});
console.log(`session opened in ${(performance.now() - t1).toFixed(0)} ms`);
const rng = new Rng(0);
const images = (count: number) => new ort.Tensor('float32', Float32Array.from({ length: count * 32 * 32 * 3 }, () => rng.normal()), [count, 32, 32, 3]);
const feeds: Record<string, Ort.Tensor> =
  kind === 'simclr'
    ? { views: images(2 * n), lr_corrected: new ort.Tensor('float32', Float32Array.of(1e-3), []), second_correction: new ort.Tensor('float32', Float32Array.of(1), []) }
    : { images: images(n), onehot: new ort.Tensor('float32', Float32Array.from({ length: n * 10 }, (_, i) => (i % 10 === Math.floor(i / 10) % 10 ? 1 : 0)), [n, 10]), lr: new ort.Tensor('float32', Float32Array.of(0.1), []) };
for (const s of graph.state) feeds[s.name] = new ort.Tensor('float32', Float32Array.from({ length: s.shape.reduce((a, b) => a * b, 1) }, () => (s.name.startsWith('v/') || s.name.includes('running_var') || s.name.includes('gamma') ? 1 : rng.normal() * 0.05)), s.shape);
for (let i = 0; i < steps; i++) {
  const t2 = performance.now();
  await session.run(feeds);
  console.log(`step ${i}: ${(performance.now() - t2).toFixed(0)} ms (${((n * 1000) / (performance.now() - t2)).toFixed(1)} img/s)`);
}
if (process.argv.includes('--no-profile')) process.exit(0);
session.endProfiling();
const name = (await readdir('/tmp')).filter((f) => f.startsWith('gssd-ort-profile') && f.endsWith('.json')).sort().pop();
if (!name) throw new Error('no profile file written');
const file = `/tmp/${name}`;
const events = JSON.parse(await readFile(file, 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string; input_type_shape?: unknown; output_type_shape?: unknown } }[];
await rm(file, { force: true });
const byOp = new Map<string, number>();
let total = 0;
for (const e of events) {
  if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
  const op = e.args?.op_name ?? '?';
  byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
  total += e.dur;
}
const byNode = new Map<string, [number, string]>();
for (const e of events) {
  if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
  const prev = byNode.get(e.name);
  byNode.set(e.name, [(prev?.[0] ?? 0) + e.dur, `${e.args?.op_name} in ${JSON.stringify(e.args?.input_type_shape)} out ${JSON.stringify(e.args?.output_type_shape)}`]);
}
if (process.argv.includes('--nodes')) for (const [name, [us, what]] of [...byNode].sort((a, b) => b[1][0] - a[1][0]).slice(0, 40)) console.log(`${(us / 1e3 / steps).toFixed(1).padStart(8)} ms  ${name.slice(0, 50)}  ${what.slice(0, 200)}`);
console.log(`kernel time over ${steps} steps: ${(total / 1e3).toFixed(0)} ms`);
for (const [op, us] of [...byOp].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${op.padEnd(20)} ${(us / 1e3 / steps).toFixed(1).padStart(9)} ms/step  ${((100 * us) / total).toFixed(1)}%`);
await session.release();

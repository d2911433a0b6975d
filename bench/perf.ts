/**
 * Per-stage throughput of the cleanse pipeline in one run, next to the PyTorch CPU reference
 * run from the same process: decode (rows/s), embed (images/s, ONNX vs TF.js, batch 256),
 * flow fit (FlowBank, batch 16 and 256, vectors/s) and scoring, route (rows/s: verdict
 * columns, split, Parquet part sinks), then `torch_ref.py`; peak RSS. Writes
 * `bench/results/perf.md` and `bench/results/perf.json`.
 *
 *   npx tsc -p tsconfig.json --outDir .bench-build && node .bench-build/bench/perf.js \
 *     [--seconds 10] [--widths 16,32,64] [--batch 256] [--rows 50000] [--data ../shared/data/cifar10]
 *     [--tfjs-widths 16,32,64] [--rounds 2] [--no-torch] [--out bench/results]
 *
 * Run from the repository root (paths are relative to the working directory).
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadOnnxRuntime } from '../src/models/onnx-runtime.js';
import { initBackend } from '../src/models/backend.js';
import { EmbedPool } from '../src/models/embed-pool.js';
import { FlowBank } from '../src/models/flow-bank.js';
import { FlowBankPool } from '../src/models/flow-bank-pool.js';
import { openFlowScorer } from '../src/models/flow-scorer.js';
import { exportResNetToOnnx } from '../src/models/onnx-export.js';
import { OnnxEncoder } from '../src/models/onnx-encoder.js';
import { ResNet } from '../src/models/resnet.js';
import { readBatches } from '../src/io/read.js';
import { PartSink } from '../src/io/part-sink.js';
import { DEFAULT_COLUMNS } from '../src/io/columns.js';
import { decodeBatch } from '../src/stages/decode.js';
import { splitBySplit, withVerdicts, type RouteSplit, type RowVerdict } from '../src/stages/route.js';
import { Rng } from '../src/rng.js';
import { measure, timeOnce, type Rate } from './lib/rate.js';
import { runTorchEmbed, runTorchRef } from './lib/torch-ref.js';
import { writePerfReport, type PerfReport, type PerfRow } from './lib/perf-report.js';
import { arg } from './lib/args.js';

const ort = await loadOnnxRuntime('perf bench');

const seconds = Number(arg('seconds', '10'));
const widths = arg('widths', '16,32,64').split(',').map(Number);
const tfjsWidths = arg('tfjs-widths', arg('widths', '16,32,64')).split(',').filter(Boolean).map(Number);
const batch = Number(arg('batch', '256'));
const maxRows = Number(arg('rows', '50000'));
const dataDir = resolve(arg('data', '../shared/data/cifar10'));
const outDir = resolve(arg('out', 'bench/results'));
const rounds = Number(arg('rounds', '2'));
const withTorch = !process.argv.includes('--no-torch');

/** PyTorch CPU figures of docs/architecture.md, measured on this machine when it was idle. */
const TORCH_IDLE: Record<string, number> = { embed_w32: 214, embed_w64: 103, flow_b16: 1300, flow_b256: 7700, flow_score: 20000 };

const rows: PerfRow[] = [];
const rssAfterStageMB: Record<string, number> = {};
const notes: string[] = [];
const mb = (bytes: number) => bytes / (1 << 20);

function log(row: PerfRow): void {
  rows.push(row);
  const r = row.rate;
  console.log(`${row.stage.padEnd(7)} ${row.what.padEnd(44)} ${r.perSecond.toFixed(1).padStart(9)} ${row.unit}  (per CPU-s ${r.perCpuSecond.toFixed(1)}, load ${r.load.toFixed(1)})${row.note ? '  ' + row.note : ''}`);
}

function stageDone(name: string): void {
  rssAfterStageMB[name] = mb(process.memoryUsage().rss);
}

async function shards(): Promise<string[]> {
  const names = (await readdir(dataDir)).filter((n) => /^train-.*\.parquet$/.test(n)).sort();
  if (!names.length) throw new Error(`${dataDir}: no train-*.parquet shards`);
  return names.map((n) => join(dataDir, n));
}

/** Decode: read + decode every row (up to --rows); keeps the first `batch` images for embed. */
async function decodeStage(inputs: string[]): Promise<Uint8Array> {
  const keep = new Uint8Array(batch * 32 * 32 * 3);
  let kept = 0;
  let decodeMs = 0;
  const total = await timeOnce(async () => {
    let n = 0;
    for await (const b of readBatches(inputs, { batchRows: 1000 })) {
      const t0 = performance.now();
      const out = decodeBatch(b, DEFAULT_COLUMNS, 32);
      decodeMs += performance.now() - t0;
      const px = out.getChild('gssd_pixels')!;
      for (let i = 0; i < out.numRows && kept < batch; i++) keep.set(px.get(i) as Uint8Array, 3072 * kept++);
      n += b.numRows;
      if (n >= maxRows) break;
    }
    return n;
  });
  log({ stage: 'decode', what: 'read + decode JPEG -> 32x32x3 (whole pass)', unit: 'rows/s', rate: total, note: `${total.items} rows` });
  const only = total.items / (decodeMs / 1000);
  log({ stage: 'decode', what: 'decode only (same pass)', unit: 'rows/s', rate: { ...total, perSecond: only, perCpuSecond: NaN } });
  stageDone('decode');
  return keep;
}

/** Embed: ONNX (and TF.js) encoder forward at each width on real images, batch `batch`. */
async function embedStage(pixels: Uint8Array, torchEmbed: Map<number, number>): Promise<string> {
  let provider = 'cpu';
  for (const w of widths) {
    const net = new ResNet({ width: w, imageSize: 32, seed: 0 });
    const enc = await OnnxEncoder.load(exportResNetToOnnx(net), { batchSize: batch });
    provider = `${enc.provider}, ${enc.intraOpThreads} intra-op threads`;
    const onnxRate = await measure(() => enc.embed(pixels, batch), batch, seconds);
    const target = w === 64 ? 1.5 : undefined;
    const torchIdle = TORCH_IDLE[`embed_w${w}`];
    log({ stage: 'embed', what: `ResNet-18 w${w} forward, ONNX Runtime`, unit: 'images/s', rate: onnxRate, target, torch: torchEmbed.get(w), torchIdle });
    if (tfjsWidths.includes(w)) {
      const ref = net.embedSync(pixels, batch);
      const h = await enc.embed(pixels, batch);
      let diff = 0;
      let scale = 0;
      for (let i = 0; i < h.length; i++) {
        diff = Math.max(diff, Math.abs(h[i] - ref[i]));
        scale = Math.max(scale, Math.abs(ref[i]));
      }
      notes.push(`w${w}: ONNX vs TF.js embeddings of the same ${batch} images differ by at most ${diff.toExponential(2)} (largest |h| ${scale.toFixed(3)}).`);
      const tfRate = await measure(() => net.embedSync(pixels, batch), batch, seconds);
      log({ stage: 'embed', what: `ResNet-18 w${w} forward, TF.js main thread`, unit: 'images/s', rate: tfRate, torch: torchEmbed.get(w), torchIdle });
      const pool = await EmbedPool.create(net);
      const poolRate = await measure(() => pool.embed(pixels, batch), batch, seconds);
      log({ stage: 'embed', what: `ResNet-18 w${w} forward, TF.js EmbedPool (${pool.size} workers)`, unit: 'images/s', rate: poolRate, torch: torchEmbed.get(w), torchIdle });
      await pool.close();
    }
    await enc.close();
    net.dispose();
  }
  stageDone('embed');
  return provider;
}

function randn(rng: Rng, n: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = rng.normal();
  return x;
}

/**
 * Flow fit (a 10-class FlowBank fed a shuffled stream; on worker threads as the cleanse runs
 * it, and on one thread) and scoring (ONNX Runtime as the cleanse runs it, and TF.js), D = 512.
 */
async function flowStage(torch: Record<string, number> | undefined): Promise<void> {
  const rng = new Rng(0);
  for (const b of [16, 256]) {
    const n = 40 * b; // about 4 steps per class per call
    const x = randn(rng, n * 512);
    const labels = Int32Array.from({ length: n }, () => rng.int(10));
    const torchRate = torch?.[`flow_train_b${b}_vectors_per_s`];
    const pool = await FlowBankPool.create(new FlowBank({ numClasses: 10, dim: 512, batchSize: b, seed: 0 }).getState());
    const rp = await measure(() => pool.update(x, labels), n, seconds / 2, 1, () => pool.getState());
    log({ stage: 'fit', what: `FlowBankPool fit (${pool.size} worker threads), 10 classes, batch ${b}`, unit: 'vectors/s', rate: rp, torch: torchRate, torchIdle: TORCH_IDLE[`flow_b${b}`], target: 1 });
    await pool.close();
    const bank = new FlowBank({ numClasses: 10, dim: 512, batchSize: b, seed: 0 });
    const r = await measure(() => bank.update(x, labels), n, seconds / 2);
    log({ stage: 'fit', what: `FlowBank fit, one thread, 10 classes, batch ${b}`, unit: 'vectors/s', rate: r, torch: torchRate, torchIdle: TORCH_IDLE[`flow_b${b}`] });
    bank.dispose();
  }
  const bank = new FlowBank({ numClasses: 10, dim: 512, seed: 0 });
  const n = 4096;
  const x = randn(rng, n * 512);
  const pairs = (r: Rate): Rate => ({ ...r, perSecond: r.perSecond * 10, perCpuSecond: r.perCpuSecond * 10 });
  const scorer = await openFlowScorer(bank, 'onnx');
  const ro = await measure(() => scorer.logProb(x, n), n, seconds / 2);
  log({ stage: 'score', what: `flow scoring on ONNX Runtime (${scorer.runtime}), 10 classes (vector x class pairs)`, unit: 'vectors/s', rate: pairs(ro), torch: torch?.flow_score_vectors_per_s, torchIdle: TORCH_IDLE.flow_score, target: 1, note: 'torch: one flow' });
  await scorer.close();
  const r = await measure(() => bank.logProb(x, n), n, seconds / 2);
  log({ stage: 'score', what: 'FlowBank logProb on TF.js, 10 classes (vector x class pairs)', unit: 'vectors/s', rate: pairs(r), torch: torch?.flow_score_vectors_per_s, torchIdle: TORCH_IDLE.flow_score, note: 'torch: one flow' });
  bank.dispose();
  stageDone('flow');
}

/** Route: verdict columns + split + four Parquet part sinks, on the original rows. */
async function routeStage(inputs: string[]): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'gssd-perf-route-'));
  const rng = new Rng(1);
  const splits: RouteSplit[] = ['clean', 'poisoned', 'uncertain', 'rejected'];
  let routeMs = 0;
  try {
    const sinks = Object.fromEntries(await Promise.all(splits.map(async (s) => [s, await PartSink.open(join(dir, s))] as const))) as Record<RouteSplit, PartSink>;
    const total = await timeOnce(async () => {
      let n = 0;
      for await (const b of readBatches(inputs, { batchRows: 1000 })) {
        const verdicts: RowVerdict[] = Array.from({ length: b.numRows }, () => {
          const u = rng.next();
          const split: RouteSplit = u < 0.85 ? 'clean' : u < 0.95 ? 'poisoned' : u < 0.99 ? 'uncertain' : 'rejected';
          const scored = split !== 'rejected';
          return { split, score: scored ? rng.normal() : null, loglik: scored ? rng.normal() : null, pred: scored ? rng.int(10) : null, label: split === 'clean' ? rng.int(10) : null, reason: split };
        });
        const t0 = performance.now();
        const annotated = withVerdicts(b, verdicts);
        for (const [s, part] of splitBySplit(annotated)) await sinks[s].write(part);
        routeMs += performance.now() - t0;
        n += b.numRows;
        if (n >= maxRows) break;
      }
      const t0 = performance.now();
      for (const s of splits) await sinks[s].close();
      routeMs += performance.now() - t0;
      return n;
    });
    log({ stage: 'route', what: 'read + verdicts + split + Parquet sinks', unit: 'rows/s', rate: total, note: `${total.items} rows` });
    const only = total.items / (routeMs / 1000);
    log({ stage: 'route', what: 'verdicts + split + Parquet sinks only', unit: 'rows/s', rate: { ...total, perSecond: only, perCpuSecond: NaN } });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  stageDone('route');
}

/** ONNX w64 and PyTorch forward measured alternately, `rounds` times (a shared machine drifts). */
async function interleaved(pixels: Uint8Array): Promise<{ ours: number; torch: number }[]> {
  const out: { ours: number; torch: number }[] = [];
  const net = new ResNet({ width: 64, imageSize: 32, seed: 0 });
  const enc = await OnnxEncoder.load(exportResNetToOnnx(net), { batchSize: batch });
  net.dispose();
  for (let i = 0; i < rounds; i++) {
    const ours = (await measure(() => enc.embed(pixels, batch), batch, seconds)).perSecond;
    const torch = await runTorchEmbed(64, batch, seconds);
    if (torch === undefined) break;
    out.push({ ours, torch });
    console.log(`interleaved round ${i + 1}: ONNX ${ours.toFixed(1)} images/s, PyTorch ${torch.toFixed(1)} images/s, ratio ${(ours / torch).toFixed(2)}x`);
  }
  await enc.close();
  return out;
}

async function main(): Promise<void> {
  const backend = await initBackend('auto');
  const inputs = await shards();
  console.log(`TF.js backend ${backend}; ${cpus().length} CPUs; ${seconds} s per figure; batch ${batch}; up to ${maxRows} rows from ${inputs.length} shards`);
  const pixels = await decodeStage(inputs);
  await routeStage(inputs);
  // PyTorch first among the compute figures, so the ratios compare neighbours in time
  const loadBefore = loadavg()[0];
  const torchRun = withTorch ? await runTorchRef(['--width', '64', '--batch', String(batch), '--seconds', String(seconds)]) : { skipped: '--no-torch' };
  const loadAfter = loadavg()[0];
  const torchFigures = 'figures' in torchRun ? torchRun.figures : undefined;
  if ('skipped' in torchRun) console.log(`torch: skipped (${torchRun.skipped})`);
  else console.log(`torch (${torchRun.seconds.toFixed(0)} s): ${JSON.stringify(torchRun.figures)}`);
  const torchEmbed = new Map<number, number>();
  if (torchFigures?.embed_images_per_s) torchEmbed.set(64, torchFigures.embed_images_per_s);
  const provider = await embedStage(pixels, torchEmbed);
  await flowStage(torchFigures);
  const inter = withTorch && torchFigures && rounds > 0 ? await interleaved(pixels) : [];
  stageDone('interleaved');

  if (maxRows <= 50_000) notes.push(`decode and route measured on ${Math.min(maxRows, 50_000)} rows (the CIFAR-10 train shards), not 500k: their rate does not depend on the row count (streaming, flat memory).`);
  notes.push('Ratios divide our wall-clock rate by the PyTorch figure of the same run (torch_ref.py runs before our compute stages), or by docs/architecture.md\'s idle-machine figure; the load average (1 min) shows how busy the shared machine was at the end of each figure. On a shared machine the interleaved encoder table is the fairest comparison.');
  notes.push('"per CPU-second": items per second of CPU time of this process, all threads (ONNX Runtime and EmbedPool use every core, so this is about wall rate / cores on an idle machine).');
  const report: PerfReport = {
    date: new Date().toISOString(),
    command: `node .bench-build/bench/perf.js ${process.argv.slice(2).join(' ')}`.trim(),
    machine: { cpus: availableParallelism(), model: cpus()[0]?.model ?? '?', node: process.version, onnxruntime: ort.env.versions.common ?? '?', tfjsBackend: backend, onnxProvider: provider },
    settings: { seconds, widths, tfjsWidths, batch, rows: maxRows, rounds, data: dataDir },
    rows,
    torch: 'figures' in torchRun ? { command: torchRun.command, figures: torchRun.figures, seconds: torchRun.seconds, loadBefore, loadAfter } : { skipped: torchRun.skipped },
    interleaved: inter,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    rssAfterStageMB,
    notes,
  };
  await writePerfReport(outDir, report);
  console.log(`peak RSS ${report.peakRssMB.toFixed(0)} MB; wrote ${join(outDir, 'perf.md')} and perf.json`);
}

await main();

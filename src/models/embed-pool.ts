/**
 * Encoder inference on several threads. The wasm backend runs on one thread under Node, so
 * `EmbedPool` starts worker threads, each with its own TensorFlow.js wasm backend and a copy
 * of the encoder's inference program (`evalPlan`: BatchNorm folded, weights as of `create`),
 * and splits every `embed` call into batches spread over them. The workers run the same
 * `runPlan` function as `ResNet.embedSync`, so the features are identical.
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { availableParallelism } from 'node:os';
import { runPlan, type EvalPlan } from './eval-plan.js';
import { startWorkers } from './worker-start.js';
import { normalizeToArray } from './normalize.js';
import type { ResNet } from './resnet.js';

export interface EmbedPoolOptions {
  /** Worker threads. Default: the number of CPUs (at least 1). */
  workers?: number;
  /** Images per task sent to a worker. Default 64. */
  batch?: number;
}

interface Task {
  resolve: (out: Float32Array) => void;
  reject: (err: Error) => void;
}

const WORKER_SOURCE = (runPlanSource: string) => `
const { parentPort, workerData } = require('node:worker_threads');
const tf = require(workerData.tfCore);
const wasm = require(workerData.tfWasm);
const runPlan = (${runPlanSource});
(async () => {
  wasm.setWasmPaths(workerData.wasmDir);
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to start in a worker');
  await tf.ready();
  const plan = workerData.plan;
  const weights = plan.arrays.map((a, i) => tf.tensor(a, plan.shapes[i]));
  parentPort.on('message', ({ id, x, n, size }) => {
    try {
      const h = tf.tidy(() => runPlan(tf, plan, weights, tf.tensor4d(x, [n, size, size, 3])));
      const out = h.dataSync();
      h.dispose();
      parentPort.postMessage({ id, out }, [out.buffer]);
    } catch (err) {
      parentPort.postMessage({ id, error: String(err && err.stack || err) });
    }
  });
  parentPort.postMessage({ ready: true });
})().catch((err) => parentPort.postMessage({ fatal: String(err && err.stack || err) }));
`;

/**
 * A pool of inference threads behind the embed stage's `ImageEncoder` interface.
 *
 * @example
 *   const pool = await EmbedPool.create(net, { workers: 2 });
 *   const h = await pool.embed(pixels, n);   // n x featureDim, as net.embedSync(pixels, n)
 *   await pool.close();
 */
export class EmbedPool {
  readonly featureDim: number;
  readonly imageSize: number;
  private readonly workers: Worker[];
  private readonly batch: number;
  private readonly pending = new Map<number, Task>();
  private readonly idle: Worker[] = [];
  private readonly queue: { id: number; x: Float32Array; n: number }[] = [];
  private nextId = 0;
  private failure: Error | undefined;

  private constructor(featureDim: number, imageSize: number, workers: Worker[], batch: number) {
    this.featureDim = featureDim;
    this.imageSize = imageSize;
    this.workers = workers;
    this.batch = batch;
  }

  /**
   * Starts the workers with a snapshot of the encoder's current weights.
   *
   * @example
   *   const pool = await EmbedPool.create(net);
   */
  static async create(net: ResNet, options: EmbedPoolOptions = {}): Promise<EmbedPool> {
    const count = options.workers ?? Math.max(1, availableParallelism());
    const batch = options.batch ?? 64;
    if (!Number.isInteger(count) || count < 1) throw new Error(`Expected \`workers\` to be an integer from 1 and up, got \`${count}\``);
    if (!Number.isInteger(batch) || batch < 1) throw new Error(`Expected \`batch\` to be an integer from 1 and up, got \`${batch}\``);
    const plan: EvalPlan = net.evalPlan();
    const require = createRequire(import.meta.url);
    const tfWasm = require.resolve('@tensorflow/tfjs-backend-wasm');
    const workerData = { tfCore: require.resolve('@tensorflow/tfjs-core'), tfWasm, wasmDir: join(dirname(tfWasm), '/'), plan };
    const source = WORKER_SOURCE(runPlan.toString());
    const workers = await startWorkers(
      count,
      () => new Worker(source, { eval: true, workerData }),
      (m) => {
        const r = m as { ready?: boolean; fatal?: string };
        return r.ready ? true : r.fatal;
      },
      'embed worker',
    );
    const pool = new EmbedPool(net.featureDim, net.imageSize, workers, batch);
    for (const w of workers) pool.attach(w);
    pool.setRef(false);
    return pool;
  }

  /** Number of worker threads. */
  get size(): number {
    return this.workers.length;
  }

  /**
   * Features of `n` uint8 RGB images (imageSize x imageSize x 3, back to back), normalised
   * with the CIFAR statistics, in eval mode: n x featureDim, row-major.
   *
   * @example
   *   const h = await pool.embed(pixels, 100);
   */
  async embed(pixels: Uint8Array, n: number): Promise<Float32Array> {
    if (this.failure) throw this.failure;
    const size = this.imageSize;
    const per = size * size * 3;
    if (pixels.length < n * per) throw new Error(`Expected ${n} images of ${size}x${size}x3 bytes, got ${pixels.length} bytes`);
    const out = new Float32Array(n * this.featureDim);
    const jobs: Promise<void>[] = [];
    for (let start = 0; start < n; start += this.batch) {
      const m = Math.min(this.batch, n - start);
      const x = normalizeToArray(pixels.subarray(start * per, (start + m) * per));
      const at = start * this.featureDim;
      jobs.push(this.submit(x, m).then((h) => out.set(h, at)));
    }
    await Promise.all(jobs);
    return out;
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.failure ??= new Error('EmbedPool is closed');
  }

  private attach(w: Worker): void {
    w.on('message', (m: { id: number; out?: Float32Array; error?: string }) => {
      const task = this.pending.get(m.id);
      if (!task) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) this.setRef(false);
      if (m.error !== undefined) task.reject(new Error(`embed worker: ${m.error}`));
      else task.resolve(m.out!);
      this.idle.push(w);
      this.pump();
    });
    w.on('error', (err) => this.fail(err));
    this.idle.push(w);
  }

  /** Idle workers do not keep the process alive (a forgotten `close` cannot hang it). */
  private setRef(on: boolean): void {
    for (const w of this.workers) {
      if (on) w.ref();
      else w.unref();
    }
  }

  private submit(x: Float32Array, n: number): Promise<Float32Array> {
    if (this.pending.size === 0) this.setRef(true);
    const id = this.nextId++;
    const promise = new Promise<Float32Array>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.queue.push({ id, x, n });
    this.pump();
    return promise;
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const w = this.idle.shift()!;
      const job = this.queue.shift()!;
      w.postMessage({ id: job.id, x: job.x, n: job.n, size: this.imageSize }, [job.x.buffer as ArrayBuffer]);
    }
  }

  private fail(err: Error): void {
    this.failure = err;
    for (const t of this.pending.values()) t.reject(err);
    this.pending.clear();
  }
}

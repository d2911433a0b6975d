/**
 * Data-parallel SimCLR training on worker threads. The wasm and cpu backends run on one
 * thread under Node; `ParallelSimclr` splits every step's batch into a fixed number S of
 * shards, computed by min(S, cores) worker threads, each with its own backend.
 *
 * Per step: every shard runs the encoder and head on its rows of both views (BatchNorm with
 * the shard's own batch statistics, as PyTorch DDP without SyncBN) and posts z; the main
 * thread computes the full-batch NT-Xent loss and dL/dz of every row, which the shards
 * backpropagate (the tape is kept across the wait, see `simclr-worker.ts`). The main thread
 * sums the shards' gradients in shard order and takes the Adam step on the master weights of
 * a `SimclrTrainer`, which the workers read from shared memory at the next step.
 *
 * BatchNorm running statistics: each shard updates the step-start running averages with its
 * own batch statistics (view 1 then view 2, as `SimclrTrainer`); the new running averages are
 * the mean over shards of the shards' results, summed in shard order.
 *
 * Results depend on S, never on the number of threads: same seed and inputs give the same
 * weights on any machine. With S = 1 a step is `SimclrTrainer.step` on another thread.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import './gradients.js';
import { ntXent, simclrStepBytes, type SimclrTrainer } from './simclr.js';
import { workerScript } from './worker-script.js';
import { startWorkers } from './worker-start.js';
import {
  ABORT,
  floatCount,
  GO,
  readVariables,
  shardRows,
  sharedVariables,
  SIGNAL_HEADER,
  threadShards,
  type StepRequest,
  type WorkerInit,
  type WorkerReply,
} from './simclr-protocol.js';

export interface ParallelSimclrOptions {
  /** Logical shards S of every batch (the results depend on it). Default 2. */
  shards?: number;
  /** Worker threads. Default min(S, number of CPUs). Does not change the results. */
  threads?: number;
  /** Backend of the workers. Default: the main thread's (`wasm` or `cpu`). */
  backend?: 'wasm' | 'cpu';
}

/** The wasm heap of each thread stops at 4 GB (as `SimclrTrainer`'s guard, `simclr.ts`). */
const WASM_BUDGET = 3.4e9;

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** What the main thread collects from the shards during one step. */
interface StepState {
  id: number;
  z: (Float32Array | undefined)[];
  grads: (Float32Array | undefined)[];
  stats: (Float32Array | undefined)[];
  zLeft: number;
  gradsLeft: number;
  allZ: Deferred;
  allGrads: Deferred;
}

/**
 * A `SimclrTrainer` whose steps run data-parallel on worker threads. The trainer stays the
 * owner of the master weights, the head and the Adam state (save and load it with
 * `saveSimclr`/`loadSimclr`); it is up to date after every `step`.
 *
 * @example
 *   const trainer = new SimclrTrainer(new ResNet({ width: 16 }), { seed: 1 });
 *   const par = await ParallelSimclr.create(trainer, { shards: 2 });
 *   const loss = await par.step(view1, view2);      // as trainer.step, on 2 threads
 *   await saveSimclr(par.trainer, 'ck/simclr');
 *   await par.close();                              // the trainer remains the caller's
 */
export class ParallelSimclr {
  readonly trainer: SimclrTrainer;
  readonly shards: number;
  readonly backend: 'wasm' | 'cpu';
  private readonly workers: Worker[];
  private readonly weights: Float32Array;
  private readonly trained: tf.Variable[];
  private readonly stats: tf.Variable[];
  private current: StepState | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private nextId = 0;
  private failure: Error | undefined;

  private constructor(trainer: SimclrTrainer, shards: number, backend: 'wasm' | 'cpu', workers: Worker[], weights: Float32Array) {
    this.trainer = trainer;
    this.shards = shards;
    this.backend = backend;
    this.workers = workers;
    this.weights = weights;
    ({ trained: this.trained, stats: this.stats } = sharedVariables(trainer));
  }

  /**
   * Starts the worker threads with the trainer's current weights (a new trainer, or one from
   * `loadSimclr` to resume).
   *
   * @example
   *   const par = await ParallelSimclr.create(await loadSimclr('ck/simclr'), { shards: 2 });
   */
  static async create(trainer: SimclrTrainer, options: ParallelSimclrOptions = {}): Promise<ParallelSimclr> {
    const shards = options.shards ?? 2;
    if (!Number.isInteger(shards) || shards < 1) throw new Error(`Expected \`shards\` to be an integer from 1 and up, got \`${shards}\``);
    const threads = options.threads ?? Math.min(shards, Math.max(1, availableParallelism()));
    if (!Number.isInteger(threads) || threads < 1 || threads > shards) {
      throw new Error(`Expected \`threads\` to be an integer from 1 to the shard count ${shards}, got \`${threads}\``);
    }
    const running = tf.getBackend();
    const backend = options.backend ?? (running === 'wasm' || running === 'cpu' ? running : undefined);
    if (!backend) throw new Error(`ParallelSimclr runs on the wasm or cpu backend; give \`backend\` (the main thread runs ${running})`);
    const { trained, stats } = sharedVariables(trainer);
    const shared = new SharedArrayBuffer(4 * (floatCount(trained) + floatCount(stats)));
    const weights = new Float32Array(shared);
    readVariables(stats, weights, readVariables(trained, weights, 0));
    const net = trainer.encoder;
    const script = workerScript(import.meta.url, 'simclr-worker.js');
    const workers = await startWorkers(
      threads,
      (t) => {
        const workerData: WorkerInit = {
          backend,
          encoder: { width: net.width, imageSize: net.imageSize, stem: net.stem, seed: net.seed },
          simclr: trainer.options,
          weights: shared,
          shards: threadShards(shards, threads, t),
        };
        return new Worker(script, { workerData });
      },
      (m) => {
        const r = m as WorkerReply;
        return r.type === 'ready' ? true : r.type === 'fatal' ? r.message : undefined;
      },
      'SimCLR worker',
    );
    const par = new ParallelSimclr(trainer, shards, backend, workers, weights);
    workers.forEach((w, t) => par.attach(w, threadShards(shards, threads, t)));
    par.setRef(false);
    return par;
  }

  /** The encoder being trained (the trainer's, current after every step). */
  get encoder(): SimclrTrainer['encoder'] {
    return this.trainer.encoder;
  }

  /** Number of worker threads. */
  get threads(): number {
    return this.workers.length;
  }

  /**
   * One Adam step on the NT-Xent loss of two augmented views (normalised NHWC, same batch
   * size of at least `shards` images, as tensors or flat Float32Arrays; the caller keeps
   * ownership, and leaves an array unchanged until the step resolves). Returns the loss
   * before the step. Calls queue up: one step runs at a time.
   *
   * @example
   *   const loss = await par.step(view1, view2);
   */
  step(view1: tf.Tensor4D | Float32Array, view2: tf.Tensor4D | Float32Array): Promise<number> {
    const v1 = view1 instanceof Float32Array ? view1 : (view1.dataSync() as Float32Array);
    const v2 = view2 instanceof Float32Array ? view2 : (view2.dataSync() as Float32Array);
    const run = this.queue.then(() => this.run(v1, v2));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Stops the worker threads (the trainer stays usable; dispose it separately). */
  async close(): Promise<void> {
    this.failure ??= new Error('ParallelSimclr is closed');
    this.current?.allZ.reject(this.failure);
    this.current?.allGrads.reject(this.failure);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private async run(v1: Float32Array, v2: Float32Array): Promise<number> {
    if (this.failure) throw this.failure;
    const size = this.encoder.imageSize;
    const per = size * size * 3;
    const n = v1.length / per;
    if (!Number.isInteger(n) || v2.length !== v1.length) {
      throw new Error(`Expected two views of the same number of ${size}x${size}x3 images, got ${v1.length} and ${v2.length} floats`);
    }
    if (n < this.shards) throw new Error(`A batch of ${n} images cannot be split into ${this.shards} shards`);
    this.checkMemory(n, size);
    const S = this.shards;
    const d = this.trainer.options.projDim;
    const signal = new SharedArrayBuffer(SIGNAL_HEADER + 4 * 2 * n * d);
    const word = new Int32Array(signal, 0, 1);
    const state: StepState = {
      id: this.nextId++,
      z: new Array(S),
      grads: new Array(S),
      stats: new Array(S),
      zLeft: S,
      gradsLeft: S,
      allZ: deferred(),
      allGrads: deferred(),
    };
    this.current = state;
    this.setRef(true);
    try {
      for (const [t, w] of this.workers.entries()) {
        const parts = threadShards(S, this.workers.length, t).map((shard) => {
          const [start, end] = shardRows(n, S, shard);
          return { shard, start, end, view1: v1.slice(start * per, end * per), view2: v2.slice(start * per, end * per) };
        });
        const req: StepRequest = { type: 'step', id: state.id, n, size, signal, parts };
        w.postMessage(req, parts.flatMap((p) => [p.view1.buffer, p.view2.buffer]));
      }
      await state.allZ.promise;
      const loss = this.lossGradient(state.z as Float32Array[], n, new Float32Array(signal, SIGNAL_HEADER, 2 * n * d));
      Atomics.store(word, 0, GO);
      Atomics.notify(word, 0);
      await state.allGrads.promise;
      this.update(state.grads as Float32Array[], state.stats as Float32Array[]);
      return loss;
    } catch (err) {
      Atomics.store(word, 0, ABORT);
      Atomics.notify(word, 0);
      this.failure ??= err as Error;
      throw err;
    } finally {
      this.current = undefined;
      this.setRef(false);
    }
  }

  /** NT-Xent of the whole batch from the shards' z; writes dL/dz1 then dL/dz2 into `dz`. */
  private lossGradient(z: Float32Array[], n: number, dz: Float32Array): number {
    const d = this.trainer.options.projDim;
    const z1 = new Float32Array(n * d);
    const z2 = new Float32Array(n * d);
    z.forEach((zs, s) => {
      const [start, end] = shardRows(n, this.shards, s);
      const m = end - start;
      z1.set(zs.subarray(0, m * d), start * d);
      z2.set(zs.subarray(m * d), start * d);
    });
    return tf.tidy(() => {
      const temperature = this.trainer.options.temperature;
      const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) => ntXent(a as tf.Tensor2D, b as tf.Tensor2D, temperature))([
        tf.tensor2d(z1, [n, d]),
        tf.tensor2d(z2, [n, d]),
      ]);
      dz.set(grads[0].dataSync() as Float32Array, 0);
      dz.set(grads[1].dataSync() as Float32Array, n * d);
      return value.dataSync()[0];
    });
  }

  /**
   * Sums the shards' gradients in shard order, takes the Adam step, sets the running
   * statistics to the mean of the shards', and publishes the new weights to the workers.
   */
  private update(grads: Float32Array[], stats: Float32Array[]): void {
    const total = grads[0].slice();
    for (const g of grads.slice(1)) for (let i = 0; i < total.length; i++) total[i] += g[i];
    const named: tf.NamedTensorMap = {};
    let offset = 0;
    for (const v of this.trained) {
      named[v.name] = tf.tensor(total.subarray(offset, offset + v.size), v.shape);
      offset += v.size;
    }
    this.syncAdamPowers();
    // a map, as `minimize` passes: Adam orders its slots by the map's keys, so the saved
    // optimiser state has the same layout as `SimclrTrainer`'s
    this.trainer.optimizer.applyGradients(named as unknown as Parameters<tf.AdamOptimizer['applyGradients']>[0]);
    tf.dispose(Object.values(named));
    const mean = stats[0].slice();
    for (const s of stats.slice(1)) for (let i = 0; i < mean.length; i++) mean[i] += s[i];
    if (stats.length > 1) for (let i = 0; i < mean.length; i++) mean[i] /= stats.length;
    offset = 0;
    for (const v of this.stats) {
      const values = mean.subarray(offset, offset + v.size);
      tf.tidy(() => v.assign(tf.tensor(values, v.shape)));
      offset += v.size;
    }
    this.weights.set(mean, readVariables(this.trained, this.weights, 0));
  }

  /**
   * Sets Adam's running powers beta1^t, beta2^t to pow(beta, t + 1), as
   * `AdamOptimizer.setWeights` does when a saved trainer is loaded, so that a run resumed from
   * `saveSimclr`/`loadSimclr` continues bit for bit (the optimiser's own running products
   * drift from `pow` by an ulp: `SimclrTrainer` resumes only to ~1e-7).
   */
  private syncAdamPowers(): void {
    const adam = this.trainer.optimizer as unknown as { accBeta1?: unknown; accBeta2?: unknown; beta1: number; beta2: number; iterations: number };
    const { accBeta1, accBeta2 } = adam;
    if (!(accBeta1 instanceof tf.Variable) || !(accBeta2 instanceof tf.Variable)) throw new Error('ParallelSimclr: unsupported AdamOptimizer (no accBeta1/accBeta2)');
    const t = adam.iterations;
    tf.tidy(() => {
      accBeta1.assign(tf.pow(adam.beta1, t + 1));
      accBeta2.assign(tf.pow(adam.beta2, t + 1));
    });
  }

  /** Each thread holds the activations of one shard at a time: refuse what cannot fit its heap. */
  private checkMemory(n: number, size: number): void {
    if (this.backend !== 'wasm') return;
    const rows = Math.ceil(n / this.shards);
    const need = simclrStepBytes(this.encoder.width, rows, size);
    if (need <= WASM_BUDGET) return;
    const fits = Math.floor(WASM_BUDGET / simclrStepBytes(this.encoder.width, 1, size));
    throw new Error(
      `A SimCLR shard of ${rows} images at width ${this.encoder.width} (${size} px) needs ~${(need / 1e9).toFixed(1)} GB, ` +
        `more than a wasm thread's 4 GB heap holds: use a batch of at most ${fits * this.shards} or more shards`,
    );
  }

  private attach(w: Worker, shards: number[]): void {
    w.on('message', (m: WorkerReply) => {
      const st = this.current;
      if (m.type === 'ready' || m.type === 'fatal' || !st || m.id !== st.id) return;
      if (m.type === 'error') {
        const err = new Error(`SimCLR worker (shards ${shards.join(', ')}): ${m.message}`);
        st.allZ.reject(err);
        st.allGrads.reject(err);
      } else if (m.type === 'z') {
        st.z[m.shard] = m.z;
        if (--st.zLeft === 0) st.allZ.resolve();
      } else {
        st.grads[m.shard] = m.grads;
        st.stats[m.shard] = m.stats;
        if (--st.gradsLeft === 0) st.allGrads.resolve();
      }
    });
    w.on('error', (err) => {
      this.failure ??= err;
      this.current?.allZ.reject(err);
      this.current?.allGrads.reject(err);
    });
    w.on('exit', (code) => {
      const err = new Error(`SimCLR worker exited (code ${code})`);
      this.failure ??= err;
      this.current?.allZ.reject(err);
      this.current?.allGrads.reject(err);
    });
  }

  /** Idle workers do not keep the process alive (a forgotten `close` cannot hang it). */
  private setRef(on: boolean): void {
    for (const w of this.workers) {
      if (on) w.ref();
      else w.unref();
    }
  }
}

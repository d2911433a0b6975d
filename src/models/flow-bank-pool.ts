/**
 * A `FlowBank` trained on several threads. The wasm and cpu backends run on one thread under
 * Node, and the K per-class flows are independent, so `FlowBankPool` gives each worker thread
 * the flows of the classes c with c % workers = w and sends it only those classes' rows, in
 * stream order. Every flow sees exactly the minibatches it would see in a single-threaded
 * `FlowBank` fed the same stream, so the weights are bit-identical to it for any number of
 * workers (a test checks this).
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import type { FlowState } from './flow.js';
import type { FlowBankState } from './flow-bank.js';
import type { BackendName } from './backend.js';
import type { FlowWorkerData, FlowWorkerRequest } from './flow-worker.js';
import { workerScript } from './worker-script.js';
import { startWorkers } from './worker-start.js';

export interface FlowBankPoolOptions {
  /** Worker threads. Default: the number of CPUs, at most the number of classes. */
  workers?: number;
  /** Update messages a worker may have queued before `update` waits for it. Default 4. */
  maxQueued?: number;
}

/** A request without its id (the pool numbers them). */
type RequestBody = FlowWorkerRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

interface Pending {
  resolve: (reply: { state?: FlowBankState }) => void;
  reject: (err: Error) => void;
}

interface Lane {
  worker: Worker;
  /** The classes this worker owns, by local index. */
  classes: number[];
  pending: Map<number, Pending>;
  /** Replies of queued updates, oldest first. */
  queued: Promise<unknown>[];
}

/**
 * The training side of a flow bank on worker threads: `update`, `endEpoch` and `getState`
 * as on `FlowBank` (async here), then `close`.
 *
 * @example
 *   const pool = await FlowBankPool.create(new FlowBank({ numClasses: 10, dim: 512 }).getState());
 *   for (const { h, labels } of batches) await pool.update(h, labels);
 *   await pool.endEpoch();
 *   const bank = FlowBank.fromState(await pool.getState());   // for scoring and saving
 *   await pool.close();
 */
export class FlowBankPool {
  private readonly config: FlowBankState['config'];
  /** Each flow's own config (seed included), kept so that `getState` returns it unchanged. */
  private readonly flowConfigs: FlowState['config'][];
  private readonly lanes: Lane[];
  private readonly maxQueued: number;
  private nextId = 0;
  private failure: Error | undefined;

  private constructor(state: FlowBankState, lanes: Lane[], maxQueued: number) {
    this.config = { ...state.config };
    this.flowConfigs = state.flows.map((f) => ({ ...f.config }));
    this.lanes = lanes;
    this.maxQueued = maxQueued;
  }

  /**
   * Starts the workers on the running TensorFlow.js backend with the flows of `state`.
   *
   * @example
   *   const pool = await FlowBankPool.create(bank.getState(), { workers: 2 });
   */
  static async create(state: FlowBankState, options: FlowBankPoolOptions = {}): Promise<FlowBankPool> {
    const K = state.config.numClasses;
    const count = Math.min(K, options.workers ?? Math.max(1, availableParallelism()));
    const maxQueued = options.maxQueued ?? 4;
    if (!Number.isInteger(count) || count < 1) throw new Error(`Expected \`workers\` to be an integer from 1 and up, got \`${options.workers}\``);
    const backend = tf.getBackend() as BackendName;
    const script = workerScript(import.meta.url, 'flow-worker.js');
    const owned = (w: number) => Array.from({ length: K }, (_, c) => c).filter((c) => c % count === w);
    const workers = await startWorkers(
      count,
      (w) => {
        const classes = owned(w);
        const data: FlowWorkerData = {
          backend,
          state: {
            config: { ...state.config, numClasses: classes.length },
            flows: classes.map((c) => state.flows[c]),
            buffers: classes.map((c) => state.buffers[c]),
          },
        };
        return new Worker(script, { workerData: data });
      },
      (m) => ((m as { ready?: boolean }).ready ? true : undefined),
      'flow worker',
    );
    const lanes: Lane[] = workers.map((worker, w) => ({ worker, classes: owned(w), pending: new Map(), queued: [] }));
    const pool = new FlowBankPool(state, lanes, maxQueued);
    for (const lane of lanes) pool.attach(lane);
    return pool;
  }

  /** Number of worker threads. */
  get size(): number {
    return this.lanes.length;
  }

  /**
   * Feeds `n` rows (row-major n x D, standardised) with labels in [0, K), as `FlowBank.update`.
   * Returns once every worker has at most `maxQueued` updates waiting.
   *
   * @example
   *   await pool.update(features, labels);
   */
  async update(features: Float32Array | Float64Array, labels: Int32Array | ArrayLike<number>, n = labels.length): Promise<void> {
    this.check();
    const { dim: d, numClasses: K } = this.config;
    const W = this.lanes.length;
    if (features.length < n * d) throw new Error(`Expected ${n} x ${d} features, got ${features.length} values`);
    const counts = new Array<number>(W).fill(0);
    for (let i = 0; i < n; i++) {
      const c = labels[i];
      if (!Number.isInteger(c) || c < 0 || c >= K) throw new Error(`Row ${i}: label ${c} outside [0, ${K})`);
      counts[c % W]++;
    }
    const parts = counts.map((m) => ({ features: new Float32Array(m * d), labels: new Int32Array(m), rows: 0 }));
    for (let i = 0; i < n; i++) {
      const c = labels[i];
      const part = parts[c % W];
      part.features.set(features.subarray(i * d, (i + 1) * d), part.rows * d);
      part.labels[part.rows++] = Math.floor(c / W);
    }
    for (let w = 0; w < W; w++) {
      if (parts[w].rows === 0) continue;
      const lane = this.lanes[w];
      const { features: f, labels: l } = parts[w];
      lane.queued.push(this.request(lane, { op: 'update', features: f, labels: l }, [f.buffer, l.buffer]));
    }
    for (const lane of this.lanes) {
      while (lane.queued.length > this.maxQueued) await lane.queued.shift();
    }
  }

  /**
   * Waits for every queued update, then steps each flow on its remainder (`FlowBank.endEpoch`).
   *
   * @example
   *   await pool.endEpoch();
   */
  async endEpoch(): Promise<void> {
    this.check();
    await Promise.all(this.lanes.map((lane) => this.request(lane, { op: 'endEpoch' })));
    for (const lane of this.lanes) await Promise.all(lane.queued.splice(0));
  }

  /**
   * The whole bank's state after every update sent so far, as `FlowBank.getState`.
   *
   * @example
   *   await saveFlowBankState(await pool.getState(), 'work/flows');
   */
  async getState(): Promise<FlowBankState> {
    this.check();
    const K = this.config.numClasses;
    const flows = new Array<FlowState>(K);
    const buffers = new Array<Float32Array>(K);
    const replies = await Promise.all(this.lanes.map((lane) => this.request(lane, { op: 'state' })));
    for (const lane of this.lanes) await Promise.all(lane.queued.splice(0));
    replies.forEach((reply, w) => {
      this.lanes[w].classes.forEach((c, local) => {
        flows[c] = { ...reply.state!.flows[local], config: { ...this.flowConfigs[c] } };
        buffers[c] = reply.state!.buffers[local];
      });
    });
    return { config: { ...this.config }, flows, buffers };
  }

  /** Stops the workers (pending requests fail). */
  async close(): Promise<void> {
    this.fail(new Error('FlowBankPool is closed'));
    await Promise.all(this.lanes.map((l) => l.worker.terminate()));
  }

  private request(lane: Lane, body: RequestBody, transfer: ArrayBuffer[] = []): Promise<{ state?: FlowBankState }> {
    const id = this.nextId++;
    const reply = new Promise<{ state?: FlowBankState }>((resolve, reject) => lane.pending.set(id, { resolve, reject }));
    lane.worker.postMessage({ ...body, id } as FlowWorkerRequest, transfer);
    return reply;
  }

  private attach(lane: Lane): void {
    lane.worker.on('message', (m: { id: number; state?: FlowBankState; error?: string }) => {
      const p = lane.pending.get(m.id);
      if (!p) return;
      lane.pending.delete(m.id);
      if (m.error !== undefined) {
        const err = new Error(`flow worker: ${m.error}`);
        p.reject(err);
        this.fail(err);
      } else p.resolve(m);
    });
    lane.worker.on('error', (err) => this.fail(err));
    lane.worker.on('exit', (code) => {
      if (code !== 0) this.fail(new Error(`flow worker exited with code ${code}`));
    });
  }

  private check(): void {
    if (this.failure) throw this.failure;
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const lane of this.lanes) {
      for (const p of lane.pending.values()) p.reject(err);
      lane.pending.clear();
      // rejections of queued updates surface through `check`, not as unhandled ones
      for (const q of lane.queued) q.catch(() => {});
    }
  }
}

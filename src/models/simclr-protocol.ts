/**
 * What the main thread and the workers of data-parallel SimCLR (`simclr-parallel.ts`,
 * `simclr-worker.ts`) agree on: the messages, the order of the variables in the shared
 * weight buffer, the rows of each shard, which shards a thread computes, and the layout of
 * the per-step signal buffer through which a blocked worker receives dL/dz.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ResNet, ResNetOptions } from './resnet.js';
import type { SimclrOptions, SimclrTrainer } from './simclr.js';

/** Signal word values: the worker waits while it is WAITING. */
export const WAITING = 0;
export const GO = 1;
export const ABORT = 2;
/** Bytes before the dL/dz floats in a signal buffer (one Int32 word, padded to 8). */
export const SIGNAL_HEADER = 8;

/** What a worker is started with (its `workerData`). */
export interface WorkerInit {
  backend: 'wasm' | 'cpu';
  encoder: Required<ResNetOptions>;
  simclr: Required<SimclrOptions>;
  /** Trained variables then BatchNorm running statistics, float32, in `sharedVariables` order. */
  weights: SharedArrayBuffer;
  /** The shards this worker computes, in order. */
  shards: number[];
}

/** One shard's rows of a step's two views. */
export interface ShardInput {
  shard: number;
  /** First row of the shard in the batch. */
  start: number;
  /** One past its last row. */
  end: number;
  view1: Float32Array;
  view2: Float32Array;
}

/** Main -> worker: compute one step on the worker's shards. */
export interface StepRequest {
  type: 'step';
  id: number;
  /** Batch size n (rows of one view). */
  n: number;
  size: number;
  /** Int32 signal word, then dL/dz of the whole batch: n rows for view 1, then n for view 2. */
  signal: SharedArrayBuffer;
  parts: ShardInput[];
}

/** Worker -> main. */
export type WorkerReply =
  | { type: 'ready' }
  | { type: 'fatal'; message: string }
  /** z of a shard: its m rows of z1, then its m rows of z2 (projDim floats each). */
  | { type: 'z'; id: number; shard: number; z: Float32Array }
  /** Gradients of a shard (trained variables, flat) and its updated running statistics. */
  | { type: 'grads'; id: number; shard: number; grads: Float32Array; stats: Float32Array }
  | { type: 'error'; id: number; message: string };

/**
 * The variables a data-parallel trainer keeps in step across threads, in a fixed order: the
 * trained ones (encoder, then head, as `SimclrTrainer.trainableVariables`) and the encoder's
 * BatchNorm running statistics.
 *
 * @example
 *   const { trained, stats } = sharedVariables(trainer);
 */
export function sharedVariables(trainer: SimclrTrainer): { trained: tf.Variable[]; stats: tf.Variable[] } {
  return { trained: trainer.trainableVariables(), stats: runningStats(trainer.encoder) };
}

/** The encoder's BatchNorm running means and variances, in `ResNet.variables` order. */
export function runningStats(net: ResNet): tf.Variable[] {
  return [...net.variables().values()].filter((v) => !v.trainable);
}

/** Number of floats of a list of variables. */
export function floatCount(vars: tf.Variable[]): number {
  return vars.reduce((s, v) => s + v.size, 0);
}

/**
 * Copies the values of `vars` into `out` from `offset` on; returns the offset after them.
 *
 * @example
 *   const end = readVariables(stats, buffer, 0);
 */
export function readVariables(vars: tf.Variable[], out: Float32Array, offset = 0): number {
  for (const v of vars) {
    out.set(v.dataSync() as Float32Array, offset);
    offset += v.size;
  }
  return offset;
}

/**
 * Assigns `vars` from `src` (copied, so `src` may be shared memory) from `offset` on;
 * returns the offset after them.
 *
 * @example
 *   assignVariables(trained, new Float32Array(sharedBuffer), 0);
 */
export function assignVariables(vars: tf.Variable[], src: Float32Array, offset = 0): number {
  for (const v of vars) {
    const values = src.slice(offset, offset + v.size);
    tf.tidy(() => v.assign(tf.tensor(values, v.shape)));
    offset += v.size;
  }
  return offset;
}

/**
 * Rows [start, end) of shard `s` of `shards` in a batch of `n`: shard s gets
 * [floor(s n / S), floor((s + 1) n / S)).
 *
 * @example
 *   shardRows(5, 2, 0);   // [0, 2]
 */
export function shardRows(n: number, shards: number, s: number): [number, number] {
  return [Math.floor((s * n) / shards), Math.floor(((s + 1) * n) / shards)];
}

/**
 * The shards thread `t` of `threads` computes: a contiguous block, in order.
 *
 * @example
 *   threadShards(4, 2, 1);   // [2, 3]
 */
export function threadShards(shards: number, threads: number, t: number): number[] {
  const [from, to] = shardRows(shards, threads, t);
  return Array.from({ length: to - from }, (_, i) => from + i);
}

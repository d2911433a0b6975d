/**
 * Worker-thread entry of data-parallel SimCLR (`ParallelSimclr`). The thread has its own
 * TensorFlow.js backend and a copy of the encoder and head; per step it loads the current
 * weights from shared memory and, for each of its shards, runs the forward pass on the
 * shard's rows, posts z, and backpropagates the main thread's dL/dz into gradients.
 *
 * The last shard of the thread keeps its tape: the forward runs inside `tf.variableGrads`,
 * whose function posts z and then blocks on `Atomics.wait` until the main thread has written
 * dL/dz into the step's signal buffer. A thread with several shards (fewer threads than
 * shards) cannot hold every tape at once, so its other shards run the forward without a tape
 * first (to post z) and again with one once dL/dz is known; the result is the same as with
 * one thread per shard, bit for bit.
 *
 * Not imported by anything: started by `ParallelSimclr` through `workerScript`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.js';
import { ResNet } from './resnet.js';
import { SimclrTrainer } from './simclr.js';
import {
  ABORT,
  assignVariables,
  floatCount,
  GO,
  readVariables,
  sharedVariables,
  SIGNAL_HEADER,
  WAITING,
  type ShardInput,
  type StepRequest,
  type WorkerInit,
  type WorkerReply,
} from './simclr-protocol.js';

const port = parentPort!;
const init = workerData as WorkerInit;

function post(reply: WorkerReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(reply, transfer);
}

function message(err: unknown): string {
  return String((err as Error)?.stack ?? err);
}

try {
  const backend = await initBackend(init.backend);
  if (backend !== init.backend) throw new Error(`the ${init.backend} backend did not start in a SimCLR worker (got ${backend})`);
  const net = new ResNet(init.encoder);
  const trainer = new SimclrTrainer(net, init.simclr);
  const { trained, stats } = sharedVariables(trainer);
  const trainedCount = floatCount(trained);
  const statsCount = floatCount(stats);
  const weights = new Float32Array(init.weights);
  if (weights.length !== trainedCount + statsCount) throw new Error(`shared weights hold ${weights.length} floats, the model ${trainedCount + statsCount}`);
  const d = init.simclr.projDim;

  /** z1, z2 of a shard's views (training mode: batch statistics, running averages move). */
  const forward = (v1: tf.Tensor4D, v2: tf.Tensor4D): [tf.Tensor2D, tf.Tensor2D] => [
    trainer.project(net.apply(v1, true)),
    trainer.project(net.apply(v2, true)),
  ];

  /** sum(z1 * g1) + sum(z2 * g2): its gradient in z is exactly dL/dz. */
  const objective = (z1: tf.Tensor2D, z2: tf.Tensor2D, g: Float32Array, part: ShardInput, n: number): tf.Scalar => {
    const m = part.end - part.start;
    const g1 = tf.tensor2d(g.slice(part.start * d, part.end * d), [m, d]);
    const g2 = tf.tensor2d(g.slice((n + part.start) * d, (n + part.end) * d), [m, d]);
    return tf.add(tf.sum(tf.mul(z1, g1)), tf.sum(tf.mul(z2, g2))) as tf.Scalar;
  };

  const postZ = (id: number, part: ShardInput, z1: tf.Tensor2D, z2: tf.Tensor2D): void => {
    const m = part.end - part.start;
    const z = new Float32Array(2 * m * d);
    z.set(z1.dataSync() as Float32Array, 0);
    z.set(z2.dataSync() as Float32Array, m * d);
    post({ type: 'z', id, shard: part.shard, z }, [z.buffer]);
  };

  const readStats = (): Float32Array => {
    const out = new Float32Array(statsCount);
    readVariables(stats, out);
    return out;
  };

  /** Gradients of `objective` for one shard, flat in `trained` order; disposes everything. */
  const gradients = (f: () => tf.Scalar): Float32Array => {
    const { value, grads } = tf.variableGrads(f, trained);
    const flat = new Float32Array(trainedCount);
    let offset = 0;
    for (const v of trained) {
      const g = grads[v.name];
      if (!g) throw new Error(`no gradient for a variable of shape ${v.shape}`);
      flat.set(g.dataSync() as Float32Array, offset);
      offset += v.size;
    }
    tf.dispose([value, ...Object.values(grads)]);
    return flat;
  };

  const step = (req: StepRequest): void => {
    const { id, n, size, parts } = req;
    const word = new Int32Array(req.signal, 0, 1);
    const dz = new Float32Array(req.signal, SIGNAL_HEADER, 2 * n * d);
    const awaitDz = (): void => {
      while (Atomics.load(word, 0) === WAITING) Atomics.wait(word, 0, WAITING);
      if (Atomics.load(word, 0) === ABORT) throw new Error('step aborted by the main thread');
      if (Atomics.load(word, 0) !== GO) throw new Error(`bad signal word ${Atomics.load(word, 0)}`);
    };
    const views = (part: ShardInput): [tf.Tensor4D, tf.Tensor4D] => {
      const m = part.end - part.start;
      return [tf.tensor4d(part.view1, [m, size, size, 3]), tf.tensor4d(part.view2, [m, size, size, 3])];
    };
    assignVariables(trained, weights, 0);
    const startStats = weights.subarray(trainedCount);
    const updated = new Map<number, Float32Array>();
    const last = parts[parts.length - 1];
    // shards before the last: forward without a tape, only to post z
    for (const part of parts.slice(0, -1)) {
      assignVariables(stats, startStats);
      tf.tidy(() => {
        const [z1, z2] = forward(...views(part));
        postZ(id, part, z1, z2);
      });
      updated.set(part.shard, readStats());
    }
    assignVariables(stats, startStats);
    const send = (part: ShardInput, grads: Float32Array): void => {
      const s = updated.get(part.shard)!;
      post({ type: 'grads', id, shard: part.shard, grads, stats: s }, [grads.buffer as ArrayBuffer, s.buffer as ArrayBuffer]);
    };
    // the last shard keeps its tape across the wait for dL/dz
    send(last, gradients(() => {
      const [v1, v2] = views(last);
      const [z1, z2] = forward(v1, v2);
      postZ(id, last, z1, z2);
      updated.set(last.shard, readStats());
      awaitDz();
      return objective(z1, z2, dz, last, n);
    }));
    // the other shards again, now with a tape (their running-statistics updates are discarded)
    for (const part of parts.slice(0, -1)) {
      send(part, gradients(() => {
        const [z1, z2] = forward(...views(part));
        return objective(z1, z2, dz, part, n);
      }));
    }
  };

  port.on('message', (req: StepRequest) => {
    try {
      step(req);
    } catch (err) {
      post({ type: 'error', id: req.id, message: message(err) });
    }
  });
  post({ type: 'ready' });
} catch (err) {
  post({ type: 'fatal', message: message(err) });
}

/**
 * SimCLR views made on a worker thread, so that augmentation overlaps with the training step
 * (onnxruntime runs a step on the main thread, blocking it): ask for the next batch's views
 * before running the current step.
 */
import { Worker } from 'node:worker_threads';
import { workerScript } from '../models/worker-script.js';
import type { ViewRequest } from './view-worker.js';

/**
 * A worker that augments batches in the order asked.
 *
 * @example
 *   const views = new ViewAugmenter();
 *   const next = views.request(pixels, 256, 32, '0:augment:0:0');   // starts at once
 *   const both = await next;                                         // Float32Array: view 1 then view 2
 *   await views.close();
 */
export class ViewAugmenter {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve: (v: Float32Array) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private failure: Error | undefined;

  constructor() {
    this.worker = new Worker(workerScript(import.meta.url, 'view-worker.js'));
    this.worker.on('message', (m: { id: number; views?: Float32Array; error?: string }) => {
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (this.waiting.size === 0) this.worker.unref();
      if (m.views) w?.resolve(m.views);
      else w?.reject(new Error(`augmentation failed: ${m.error}`));
    });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`the augmentation worker exited (code ${code})`)));
    this.worker.unref();
  }

  /**
   * The two views (normalised NHWC, view 1 then view 2) of `n` packed uint8 images, augmented
   * with `new Rng(seed)`. `pixels` is copied to the worker.
   */
  request(pixels: Uint8Array, n: number, size: number, seed: string): Promise<Float32Array> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const promise = new Promise<Float32Array>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    promise.catch(() => undefined);
    const r: ViewRequest = { id, pixels, n, size, seed };
    // keep the process alive while a request is out (unref'd when idle, so it never holds the process open)
    this.worker.ref();
    this.worker.postMessage(r);
    return promise;
  }

  /** Stops the worker; pending requests fail. */
  async close(): Promise<void> {
    this.fail(new Error('ViewAugmenter is closed'));
    await this.worker.terminate();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.waiting.values()) w.reject(this.failure);
    this.waiting.clear();
  }
}

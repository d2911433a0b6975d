/**
 * Worker-thread entry of `ViewAugmenter`: makes the two SimCLR views of a batch
 * (`augmentToArray` twice with one seeded Rng, as the TensorFlow.js trainer's loop does) and
 * posts them back as one array, view 1 then view 2.
 */
import { parentPort } from 'node:worker_threads';
import { augmentToArray } from './augment.js';
import { Rng } from '../rng.js';

/** A request: packed uint8 images and the seed of their augmentation. */
export interface ViewRequest {
  id: number;
  pixels: Uint8Array;
  n: number;
  size: number;
  seed: string;
}

parentPort!.on('message', (r: ViewRequest) => {
  try {
    const rng = new Rng(r.seed);
    const per = r.n * r.size * r.size * 3;
    const views = new Float32Array(2 * per);
    views.set(augmentToArray(r.pixels, r.n, r.size, rng), 0);
    views.set(augmentToArray(r.pixels, r.n, r.size, rng), per);
    parentPort!.postMessage({ id: r.id, views }, [views.buffer]);
  } catch (err) {
    parentPort!.postMessage({ id: r.id, error: String(err instanceof Error ? err.message : err) });
  }
});

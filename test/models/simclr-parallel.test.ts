import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/models/backend.js';
import { ResNet } from '../../src/models/resnet.js';
import { SimclrTrainer } from '../../src/models/simclr.js';
import { ParallelSimclr } from '../../src/models/simclr-parallel.js';
import { loadSimclr, saveSimclr } from '../../src/models/save.js';
import { augment } from '../../src/stages/augment.js';
import { Rng } from '../../src/rng.js';
import { structuredImages } from './fixture.js';

const SIZE = 16;
const N = 24;

/** Fixed augmented views for `count` steps, as flat arrays (the same for every run). */
function makeViews(count: number): [Float32Array, Float32Array][] {
  const px = structuredImages(N, SIZE);
  const rng = new Rng(5);
  return Array.from({ length: count }, () => {
    const v1 = augment(px, N, SIZE, rng);
    const v2 = augment(px, N, SIZE, rng);
    const out: [Float32Array, Float32Array] = [v1.dataSync().slice() as Float32Array, v2.dataSync().slice() as Float32Array];
    tf.dispose([v1, v2]);
    return out;
  });
}

function newTrainer(): SimclrTrainer {
  return new SimclrTrainer(new ResNet({ width: 4, imageSize: SIZE, seed: 1 }), { seed: 2, lr: 3e-3 });
}

/** Every variable of the encoder (weights and running statistics) and the head, flat. */
function snapshot(t: SimclrTrainer): Float32Array[] {
  return [...[...t.encoder.variables().values()], ...t.headVariables()].map((v) => v.dataSync().slice() as Float32Array);
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((x, i) => x.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i][j])))));
  return m;
}

/** Bit-identical (without vitest diffing large arrays on failure). */
function identical(a: Float32Array[], b: Float32Array[]): boolean {
  return a.length === b.length && a.every((x, i) => x.length === b[i].length && x.every((v, j) => Object.is(v, b[i][j])));
}

function free(t: SimclrTrainer): void {
  t.dispose();
  t.encoder.dispose();
}

describe('ParallelSimclr', () => {
  let views: [Float32Array, Float32Array][];
  let dir: string;

  beforeAll(async () => {
    await initBackend('wasm');
    views = makeViews(4);
    dir = await mkdtemp(join(tmpdir(), 'gssd-simclr-parallel-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('with one shard equals SimclrTrainer (loss, weights, running statistics, Adam)', async () => {
    const ref = newTrainer();
    const refLosses = views.slice(0, 3).map(([a, b]) => {
      const [v1, v2] = [tf.tensor4d(a, [N, SIZE, SIZE, 3]), tf.tensor4d(b, [N, SIZE, SIZE, 3])];
      const loss = ref.step(v1, v2);
      tf.dispose([v1, v2]);
      return loss;
    });
    const trainer = newTrainer();
    const par = await ParallelSimclr.create(trainer, { shards: 1 });
    expect(par.threads).toBe(1);
    const losses: number[] = [];
    for (const [a, b] of views.slice(0, 3)) losses.push(await par.step(a, b));
    await par.close();
    losses.forEach((l, i) => expect(Math.abs(l - refLosses[i])).toBeLessThan(1e-5));
    expect(maxDiff(snapshot(trainer), snapshot(ref))).toBeLessThan(1e-5);
    const [w1, w2] = [await trainer.optimizer.getWeights(), await ref.optimizer.getWeights()];
    expect(w1.map((w) => w.tensor.shape)).toEqual(w2.map((w) => w.tensor.shape));
    expect(maxDiff(w1.map((w) => w.tensor.dataSync() as Float32Array), w2.map((w) => w.tensor.dataSync() as Float32Array))).toBeLessThan(1e-5);
    free(ref);
    free(trainer);
  });

  it('with two shards: the loss falls without leaking tensors, and 1 and 2 threads give bit-identical results', async () => {
    const trainer2 = newTrainer();
    const par2 = await ParallelSimclr.create(trainer2, { shards: 2, threads: 2 });
    expect(par2.threads).toBe(2);
    const losses2: number[] = [];
    let afterThree: Float32Array[] = [];
    // 3 steps on different views (compared across thread counts), then 9 on one pair
    const sequence = [...views.slice(0, 3), ...Array.from({ length: 9 }, () => views[3])];
    let tensors = 0;
    for (const [i, [a, b]] of sequence.entries()) {
      losses2.push(await par2.step(a, b));
      if (i === 0) tensors = tf.memory().numTensors;
      if (i === 2) afterThree = snapshot(trainer2);
    }
    await par2.close();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(losses2.every(Number.isFinite)).toBe(true);
    expect((losses2[10] + losses2[11]) / 2).toBeLessThan((losses2[3] + losses2[4]) / 2 - 0.05);

    const trainer1 = newTrainer();
    const par1 = await ParallelSimclr.create(trainer1, { shards: 2, threads: 1 });
    const losses1: number[] = [];
    for (const [a, b] of views.slice(0, 3)) losses1.push(await par1.step(a, b));
    await par1.close();
    expect(losses1).toEqual(losses2.slice(0, 3));
    expect(identical(snapshot(trainer1), afterThree)).toBe(true);
    free(trainer1);
    free(trainer2);
  });

  it('continues from a saved trainer exactly as an uninterrupted run', async () => {
    const straight = newTrainer();
    const parA = await ParallelSimclr.create(straight, { shards: 2 });
    const lossesA: number[] = [];
    for (const [a, b] of views.slice(0, 4)) lossesA.push(await parA.step(a, b));
    await parA.close();

    const first = newTrainer();
    const parB = await ParallelSimclr.create(first, { shards: 2 });
    const lossesB: number[] = [];
    for (const [a, b] of views.slice(0, 2)) lossesB.push(await parB.step(a, b));
    await saveSimclr(parB.trainer, join(dir, 'ck'));
    await parB.close();
    free(first);
    const resumed = await loadSimclr(join(dir, 'ck'));
    const parC = await ParallelSimclr.create(resumed, { shards: 2 });
    for (const [a, b] of views.slice(2, 4)) lossesB.push(await parC.step(a, b));
    await parC.close();

    expect(lossesB).toEqual(lossesA);
    expect(identical(snapshot(resumed), snapshot(straight))).toBe(true);
    free(straight);
    free(resumed);
  });

  it('refuses a batch smaller than the shard count, and steps after close', async () => {
    const trainer = newTrainer();
    const par = await ParallelSimclr.create(trainer, { shards: 3, threads: 1 });
    const one = views[0][0].subarray(0, 2 * SIZE * SIZE * 3);
    await expect(par.step(one, one)).rejects.toThrow(/cannot be split into 3 shards/);
    await par.close();
    await expect(par.step(views[0][0], views[0][1])).rejects.toThrow(/closed/);
    free(trainer);
  });
});

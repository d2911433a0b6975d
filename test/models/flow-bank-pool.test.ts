import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/models/backend.js';
import { FlowBank } from '../../src/models/flow-bank.js';
import { FlowBankPool } from '../../src/models/flow-bank-pool.js';
import { Rng } from '../../src/rng.js';

beforeAll(async () => {
  await initBackend('wasm');
});

/** A labelled stream of `chunks` chunks of `rows` rows, D = dim, classes 0..K-1 unevenly. */
function stream(seed: number, chunks: number, rows: number, dim: number, K: number) {
  const rng = new Rng(seed);
  return Array.from({ length: chunks }, () => {
    const labels = Int32Array.from({ length: rows }, () => Math.min(K - 1, Math.floor(Math.abs(rng.normal()) * K / 2)));
    const h = new Float32Array(rows * dim).map((_, j) => rng.normal() + labels[Math.floor(j / dim)] * 0.3);
    return { h, labels };
  });
}

describe('FlowBankPool', () => {
  const K = 5;
  const dim = 16;
  const data = stream(1, 12, 50, dim, K);
  let single: ReturnType<FlowBank['getState']>;
  const pools: FlowBankPool[] = [];
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.close()));
  });

  beforeAll(() => {
    const bank = new FlowBank({ numClasses: K, dim, batchSize: 8, seed: 3 });
    for (let epoch = 0; epoch < 2; epoch++) {
      for (const { h, labels } of data) bank.update(h, labels);
      bank.endEpoch();
    }
    // a mid-epoch state too: buffers partly full
    for (const { h, labels } of data.slice(0, 3)) bank.update(h, labels);
    single = bank.getState();
    bank.dispose();
  });

  for (const workers of [1, 2, 3]) {
    it(`with ${workers} worker(s) trains every flow bit for bit as one thread does`, async () => {
      const pool = await FlowBankPool.create(new FlowBank({ numClasses: K, dim, batchSize: 8, seed: 3 }).getState(), { workers, maxQueued: 1 });
      pools.push(pool);
      expect(pool.size).toBe(workers);
      for (let epoch = 0; epoch < 2; epoch++) {
        for (const { h, labels } of data) await pool.update(h, labels);
        await pool.endEpoch();
      }
      for (const { h, labels } of data.slice(0, 3)) await pool.update(h, labels);
      const state = await pool.getState();
      expect(state.config).toEqual(single.config);
      for (let c = 0; c < K; c++) {
        expect(state.flows[c].config).toEqual(single.flows[c].config);
        expect(state.flows[c].step).toBe(single.flows[c].step);
        expect(state.flows[c].step).toBeGreaterThan(2);
        expect(Buffer.from(state.flows[c].params.buffer).equals(Buffer.from(single.flows[c].params.buffer))).toBe(true);
        expect(Buffer.from(state.flows[c].v.buffer).equals(Buffer.from(single.flows[c].v.buffer))).toBe(true);
        expect(Array.from(state.buffers[c])).toEqual(Array.from(single.buffers[c]));
      }
      await pool.close();
    });
  }

  it('continues from a state as an uninterrupted bank does (resume)', async () => {
    const bank = new FlowBank({ numClasses: K, dim, batchSize: 8, seed: 3 });
    for (const { h, labels } of data) bank.update(h, labels);
    bank.endEpoch();
    const pool = await FlowBankPool.create(bank.getState(), { workers: 2 });
    pools.push(pool);
    await pool.endEpoch(); // nothing buffered: no step
    for (const { h, labels } of data) await pool.update(h, labels);
    await pool.endEpoch();
    for (const { h, labels } of data.slice(0, 3)) await pool.update(h, labels);
    const resumed = await pool.getState();
    for (let c = 0; c < K; c++) {
      expect(Buffer.from(resumed.flows[c].params.buffer).equals(Buffer.from(single.flows[c].params.buffer))).toBe(true);
    }
    bank.dispose();
    await pool.close();
  });

  it('rejects a bad label in the calling thread and a closed pool', async () => {
    const pool = await FlowBankPool.create(new FlowBank({ numClasses: K, dim, seed: 3 }).getState(), { workers: 2 });
    pools.push(pool);
    await expect(pool.update(new Float32Array(dim), Int32Array.of(K))).rejects.toThrow(`label ${K} outside [0, ${K})`);
    await pool.close();
    await expect(pool.update(new Float32Array(dim), Int32Array.of(0))).rejects.toThrow('closed');
  });
});

import { describe, expect, it } from 'vitest';
import { OnnxGraph } from '../../src/models/onnx-graph.js';
import { StepSessions } from '../../src/models/onnx-train-session.js';
import type { StepGraph } from '../../src/models/onnx-simclr-graph.js';

/** A step graph of batch size n: new/w = w + sum(x). */
function graph(n: number): StepGraph {
  const g = new OnnxGraph();
  const w = g.input('w', [1]);
  const x = g.input('x', [n]);
  g.output('new/w', g.op('Add', [w, g.reduceSum(x, [0], true)], [1]));
  return { bytes: g.encode('test-step'), state: [{ name: 'w', shape: [1] }] };
}

describe('StepSessions', () => {
  it('keeps one session per batch size in use and closes the previous one on a new size', async () => {
    const sessions = new StepSessions({ device: 'cpu', threads: 1 });
    const built: number[] = [];
    const get = (n: number) =>
      sessions.get(
        n,
        () => {
          built.push(n);
          return graph(n);
        },
        `test step (batch ${n})`,
      );
    const a = await get(3);
    expect(await get(3)).toBe(a);
    const state = new Map([['w', Float32Array.of(1)]]);
    await a.run(state, { x: [Float32Array.of(1, 2, 3), [3]] });
    expect(state.get('w')).toEqual(Float32Array.of(7));
    const b = await get(2);
    expect(b).not.toBe(a);
    await b.run(state, { x: [Float32Array.of(1, 1), [2]] });
    expect(state.get('w')).toEqual(Float32Array.of(9));
    // the batch-3 session was released when batch 2 opened
    await expect(a.run(state, { x: [Float32Array.of(1, 2, 3), [3]] })).rejects.toThrow();
    await get(3);
    expect(built).toEqual([3, 2, 3]);
    await sessions.close();
  });
});

import { describe, expect, it } from 'vitest';
import { OnnxSimclr, SIMCLR_ADAM } from '../../src/models/onnx-simclr.js';
import { SplitSimclrStep, splitGraph } from '../../src/models/onnx-simclr-split.js';
import { resnetLayout } from '../../src/models/resnet-layout.js';
import type { SimclrConfig } from '../../src/models/save.js';
import { oneGraphStep, relativeError, twoViews } from './simclr-step-fixture.js';

const SIZE = 16;
const N = 6;
const config: SimclrConfig = { encoder: { width: 4, imageSize: SIZE, stem: 'cifar', seed: 3 }, simclr: { projDim: 8, temperature: 0.5, lr: 1e-3, seed: 4 } };
const options = { projDim: 8, temperature: 0.5, adam: SIMCLR_ADAM };

async function freshState(): Promise<Map<string, Float32Array>> {
  const t = await OnnxSimclr.create(config, null, { device: 'cpu', threads: 1 });
  const state = (t as unknown as { state: Map<string, Float32Array> }).state;
  await t.close();
  return state;
}

describe('the low-memory SimCLR step', () => {
  it('gives the one-graph step gradients and running statistics (views summed, 1e-5 relative)', async () => {
    const state = await freshState();
    const data = twoViews(N, SIZE, 5);
    const layout = resnetLayout(config.encoder);
    // one graph, with gradient outputs and the running statistics it moves
    const want = await oneGraphStep(config, state, data, N);
    // split: its gradients, and the running statistics it leaves in its copy of the state
    const split = new SplitSimclrStep(layout, options, { device: 'cpu', threads: 1, memory: 'low' });
    const mine = new Map(state);
    const got = await split.gradients(mine, data, N);
    await split.close();
    expect(split.provider).toBe('cpu');
    expect(got.loss).toBeCloseTo(want.loss[0], 5);
    const close = (a: Float32Array, b: Float32Array, what: string) => expect(relativeError(a, b), what).toBeLessThan(1e-5);
    let checked = 0;
    for (const name of Object.keys(want).filter((k) => k.startsWith('grad/'))) {
      const sum = got.head[name] ?? got.shares[0][name].map((v, i) => v + got.shares[1][name][i]);
      close(sum, want[name], name);
      checked++;
    }
    expect(checked).toBe(splitGraph('update', layout, N, options).state.filter((s) => s.name.startsWith('param/')).length);
    for (const s of splitGraph('embed', layout, N, options).state) {
      expect(mine.get(s.name)).not.toEqual(state.get(s.name)); // moved
      close(mine.get(s.name)!, want[`new/${s.name}`], s.name);
    }
  });

  it('builds graphs whose inputs are the state it names', () => {
    const layout = resnetLayout(config.encoder);
    const embed = splitGraph('embed', layout, N, options);
    expect(embed.state.every((s) => s.name.startsWith('stat/'))).toBe(true);
    expect(embed.reads!.every((s) => s.name.startsWith('param/') && !s.name.startsWith('param/head/'))).toBe(true);
    const update = splitGraph('update', layout, N, options);
    expect(update.state.length).toBe(3 * (embed.reads!.length + 2));
    expect(splitGraph('head', layout, N, options).reads!.map((r) => r.name)).toEqual(['param/head/0', 'param/head/1']);
  });
});

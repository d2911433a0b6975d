import { describe, expect, it } from 'vitest';
import { acVerdict, fitActivationClustering, type AcModel } from '../../src/baselines/activation-clustering.js';
import { computeClassMoments } from '../../src/baselines/class-moments.js';
import { reader, rowOf, shiftedGaussians, type Synthetic } from './helpers.js';

function verdicts(model: AcModel, data: Synthetic) {
  return Array.from(data.labels, (label, i) => acVerdict(model, rowOf(data, i), label));
}

describe('fitActivationClustering / acVerdict', () => {
  const data = shiftedGaussians(1);

  it('flags class 0, whose small cluster is the shifted rows, and not the unimodal classes', async () => {
    const model = await fitActivationClustering(reader(data, 97), data.K, data.D);
    expect(model.components).toBe(10);
    expect(model.flagged).toEqual([0]);
    const [c0, c1, c2] = model.classes;
    expect(c0.relativeSize).toBeLessThan(0.35);
    for (const c of [c1, c2]) {
      expect(c.flagged).toBe(false);
      expect(c.relativeSize).toBeGreaterThan(0.35);
      expect(c.nRemoved).toBe(0);
    }
    for (const c of model.classes) expect(c.converged).toBe(true);
    const v = verdicts(model, data);
    const shifted = [...data.labels.keys()].filter((i) => data.shifted[i]);
    const removed = [...data.labels.keys()].filter((i) => v[i].removed);
    const hits = removed.filter((i) => data.shifted[i]).length;
    expect(hits / shifted.length).toBeGreaterThanOrEqual(0.9); // recall
    expect(hits / removed.length).toBeGreaterThanOrEqual(0.9); // precision
    expect(removed.every((i) => data.labels[i] === 0)).toBe(true);
    expect(removed.length).toBe(c0.nRemoved);
    expect(model.totalRemoved).toBe(c0.nRemoved);
    // the margin is positive exactly on the poisoned side (for class 0: the removed rows)
    for (const i of [...data.labels.keys()].filter((j) => data.labels[j] === 0)) expect(v[i].score > 0).toBe(v[i].removed);
    // the well-separated cluster has a high silhouette
    expect(c0.silhouette).toBeGreaterThan(c1.silhouette);
  });

  it('is deterministic, independent of the chunk size (1, 97, 4096 rows), and plain JSON', async () => {
    const a = await fitActivationClustering(reader(data, 97), data.K, data.D);
    expect(await fitActivationClustering(reader(data, 97), data.K, data.D)).toEqual(a);
    for (const size of [1, 4096]) expect(await fitActivationClustering(reader(data, size), data.K, data.D)).toEqual(a);
    const back = JSON.parse(JSON.stringify(a)) as AcModel;
    expect(verdicts(back, data)).toEqual(verdicts(a, data));
  });

  it('reuses precomputed moments and honours the size threshold', async () => {
    const moments = await computeClassMoments(reader(data, 500), data.K, data.D);
    const shared = await fitActivationClustering(reader(data, 500), data.K, data.D, { moments });
    const own = await fitActivationClustering(reader(data, 500), data.K, data.D);
    expect({ ...shared, passes: 0 }).toEqual({ ...own, passes: 0 });
    const strict = await fitActivationClustering(reader(data, 500), data.K, data.D, { moments, acSizeThreshold: 0.05 });
    expect(strict.flagged).toEqual([]);
    expect(strict.totalRemoved).toBe(0);
    expect(verdicts(strict, data).some((x) => x.removed)).toBe(false);
  });

  it('handles few components, tiny classes and rejected rows', async () => {
    const D = 2;
    // class 0: 30 rows at (0, 0) and (1, 0) alternating, 4 at (10, 0); class 1: one row; rejected rows (-1)
    const points: [number, number, number][] = [];
    for (let i = 0; i < 30; i++) points.push([0, i % 2, 0]);
    for (let i = 0; i < 4; i++) points.push([0, 10, 0.1 * i]);
    points.push([1, 5, 5], [-1, 99, 99], [-1, -99, 0]);
    const labels = Int32Array.from(points, (p) => p[0]);
    const h = Float32Array.from(points.flatMap((p) => [p[1], p[2]]));
    const small = { D, h, labels };
    const model = await fitActivationClustering(reader(small, 7), 2, D, { acComponents: 1 });
    expect(model.components).toBe(1);
    expect(model.flagged).toEqual([0]);
    expect(model.classes[0].sizes[model.classes[0].poisonCluster]).toBe(4);
    expect(model.classes[1]).toMatchObject({ n: 1, flagged: false, components: [] });
    const removed = points.map((p, i) => acVerdict(model, rowOf(small, i), p[0]).removed);
    expect(removed).toEqual(points.map((p) => p[0] === 0 && p[1] === 10));
  });

  it('rejects bad options and labels', async () => {
    await expect(fitActivationClustering(reader(data, 97), data.K, data.D, { acSizeThreshold: -1 })).rejects.toThrow(/acSizeThreshold/);
    await expect(fitActivationClustering(reader(data, 97), data.K, data.D, { acComponents: 0 })).rejects.toThrow(/acComponents/);
    const model = await fitActivationClustering(reader(data, 4096), data.K, data.D);
    expect(() => acVerdict(model, rowOf(data, 0), 3)).toThrow(/label 3 outside/);
  });
});

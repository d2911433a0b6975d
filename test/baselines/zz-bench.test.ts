import { it } from 'vitest';
import { Rng } from '../../src/rng.js';
import { computeClassMoments, fitActivationClustering, fitSpectral, type EmbeddingReader } from '../../src/baselines/index.js';
it('bench', async () => {
  const D = 512, K = 10, N = 20000, chunk = 1024;
  const read: EmbeddingReader = async function* () {
    for (let s = 0; s < N; s += chunk) {
      const rng = new Rng(s);
      const n = Math.min(chunk, N - s);
      const h = Float32Array.from({ length: n * D }, () => rng.normal());
      const labels = Int32Array.from({ length: n }, (_, i) => (s + i) % K);
      yield { h, labels, n };
    }
  };
  let t = performance.now();
  const moments = await computeClassMoments(read, K, D);
  console.log('moments s', (performance.now() - t) / 1000, 'heapMB', process.memoryUsage().heapUsed / 1e6, 'rss', process.memoryUsage().rss / 1e6);
  t = performance.now();
  const sp = await fitSpectral(read, K, D, { moments });
  console.log('spectral s', (performance.now() - t) / 1000, sp.passes, JSON.stringify(sp).length / 1e6, 'MB json');
  t = performance.now();
  const ac = await fitActivationClustering(read, K, D, { moments });
  console.log('ac s', (performance.now() - t) / 1000, ac.passes, ac.flagged, JSON.stringify(ac).length / 1e6, 'MB json');
}, 600000);

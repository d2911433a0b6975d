// A gssd stage inside someone else's ETL job: read shards, decode, embed with a saved gssd
// encoder, and consume the batches (here: per-label mean embedding norm, printed as JSON).
// Run: node examples/etl-embed.mjs <input.parquet|dir|url> <encoder dir>
import { pipe } from 'it-pipe';
import { resolveInputs, readBatches, decode, embed, loadResNet, initBackend, EMBEDDING_COLUMN } from 'gssd';

const [input, encoderDir] = process.argv.slice(2);
await initBackend('auto');
const encoder = await loadResNet(encoderDir);
const norms = new Map();
const stream = pipe(
  readBatches(await resolveInputs([input]), { batchRows: 512 }),
  (batches) => decode(batches, { imageSize: encoder.imageSize }),
  (batches) => embed(batches, { encoder }),
);
for await (const batch of stream) {
  const h = batch.getChild(EMBEDDING_COLUMN);
  const labels = batch.getChild('label');
  for (let i = 0; i < batch.numRows; i++) {
    const v = h.get(i);
    if (!v) continue; // undecodable image: gssd_reason says why
    const norm = Math.hypot(...v.toArray());
    const s = norms.get(labels.get(i)) ?? { n: 0, sum: 0 };
    s.n += 1;
    s.sum += norm;
    norms.set(labels.get(i), s);
  }
}
console.log(JSON.stringify(Object.fromEntries([...norms].sort(([a], [b]) => a - b).map(([k, s]) => [k, { rows: s.n, meanNorm: +(s.sum / s.n).toFixed(4) }]))));

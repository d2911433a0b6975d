/**
 * SimCLR training throughput: `SimclrTrainer.step` on the main thread against
 * `ParallelSimclr.step` (data-parallel on worker threads), at widths 16 and 32 on 32-px
 * images, batch min(256, 2048 / width), same views every step.
 *
 *   npm run build && tsc -p tsconfig.json --outDir .bench-build && \
 *     node .bench-build/bench/simclr-parallel.js [--backend wasm|cpu] [--seconds 10] [--widths 16,32]
 *     [--shards 2] [--threads N]
 *
 * The workers' compiled entry must exist (`npm run build`, or the .bench-build copy).
 * Prints one line per figure: images/s by the wall clock, images per CPU-second (all threads)
 * and the 1-minute load average, then the speed-up.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/models/backend.js';
import { ResNet } from '../src/models/resnet.js';
import { SimclrTrainer } from '../src/models/simclr.js';
import { ParallelSimclr } from '../src/models/simclr-parallel.js';
import { augment } from '../src/stages/augment.js';
import { Rng } from '../src/rng.js';
import { measure, type Rate } from './lib/rate.js';
import { arg } from './lib/args.js';

function show(name: string, r: Rate): void {
  console.log(`${name} ${r.perSecond.toFixed(1)} img/s (${r.perCpuSecond.toFixed(1)} img/cpu-s, load ${r.load.toFixed(2)})`);
}

async function main(): Promise<void> {
  const backend = arg('backend', 'wasm') as 'wasm' | 'cpu';
  const seconds = Number(arg('seconds', '10'));
  const widths = arg('widths', '16,32').split(',').map(Number);
  const shards = Number(arg('shards', '2'));
  const threads = process.argv.includes('--threads') ? Number(arg('threads', '2')) : undefined;
  console.log(`backend ${await initBackend(backend)}`);
  const size = 32;
  for (const width of widths) {
    const batch = Math.min(256, Math.floor(2048 / width));
    const rng = new Rng(1);
    const px = new Uint8Array(batch * size * size * 3).map(() => rng.int(256));
    const v1 = augment(px, batch, size, rng);
    const v2 = augment(px, batch, size, rng);

    const single = new SimclrTrainer(new ResNet({ width, imageSize: size, seed: 1 }), { seed: 2 });
    const one = await measure(() => single.step(v1, v2), batch, seconds);
    show(`simclr_step_w${width}_b${batch}_single`, one);
    single.dispose();
    single.encoder.dispose();

    const trainer = new SimclrTrainer(new ResNet({ width, imageSize: size, seed: 1 }), { seed: 2 });
    const par = await ParallelSimclr.create(trainer, { shards, threads });
    const many = await measure(() => par.step(v1, v2), batch, seconds);
    show(`simclr_step_w${width}_b${batch}_parallel_s${shards}_t${par.threads}`, many);
    console.log(`speedup_w${width} ${(many.perSecond / one.perSecond).toFixed(2)}x`);
    await par.close();
    trainer.dispose();
    trainer.encoder.dispose();
    tf.dispose([v1, v2]);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

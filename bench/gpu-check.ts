/**
 * GPU check for users with an NVIDIA GPU: trains the same SimCLR steps (same initial weights,
 * same batches) on onnxruntime's CUDA provider and on the CPU, and prints both rates and how
 * far the two loss curves are apart.
 *
 *   npm run bench:gpu-check -- [--steps 50] [--width 16] [--batch 256] [--threads 2]
 *
 * Exit code 0 when both ran and the losses agree (every step within --tolerance, relative,
 * default 1e-2: float32 kernels differ between devices, and 50 Adam steps let that grow a
 * little); 1 when they disagree; 2 when the CUDA provider is not installed or cannot start
 * (the line says why). `--cpu-only` runs the CPU twice instead (checks this script without a
 * GPU: the two runs must agree exactly).
 */
import { OnnxSimclr } from '../src/models/onnx-simclr.js';
import type { SimclrConfig } from '../src/models/save.js';
import { Rng } from '../src/rng.js';
import { arg } from './lib/args.js';

const steps = Number(arg('steps', '50'));
const width = Number(arg('width', '16'));
const batch = Number(arg('batch', '256'));
const threads = Number(arg('threads', '2'));
const tolerance = Number(arg('tolerance', '1e-2'));
const cpuOnly = process.argv.includes('--cpu-only');
const config: SimclrConfig = { encoder: { width, imageSize: 32, stem: 'cifar', seed: 0 }, simclr: { projDim: 128, temperature: 0.5, lr: 3e-4, seed: 1 } };

/** `steps` Adam steps on seeded batches; the losses, and images per second after the first step. */
async function run(device: 'cuda' | 'cpu'): Promise<{ losses: number[]; perSecond: number; provider: string }> {
  const trainer = await OnnxSimclr.create(config, null, { device, threads });
  const rng = new Rng(7);
  const views = new Float32Array(2 * batch * 32 * 32 * 3);
  const losses: number[] = [];
  let t0 = 0;
  try {
    for (let i = 0; i < steps; i++) {
      for (let j = 0; j < views.length; j++) views[j] = rng.normal();
      if (i === 1) t0 = performance.now(); // the first step opens the session
      losses.push(await trainer.step(views, batch));
    }
    return { losses, perSecond: ((steps - 1) * batch * 1000) / (performance.now() - t0), provider: trainer.provider ?? device };
  } finally {
    await trainer.close();
  }
}

let first: Awaited<ReturnType<typeof run>>;
try {
  first = await run(cpuOnly ? 'cpu' : 'cuda');
} catch (err) {
  console.log(`gpu-check: ${(err as Error).message}`);
  console.log('Install the CUDA provider as the README says (ONNXRUNTIME_NODE_INSTALL=cuda12 npm install ...), or run with --cpu-only to check this script.');
  process.exit(2);
}
const cpu = await run('cpu');
let worst = 0;
first.losses.forEach((l, i) => (worst = Math.max(worst, Math.abs(l - cpu.losses[i]) / Math.max(Math.abs(cpu.losses[i]), 1e-12))));
console.log(`width ${width}, batch ${batch} pairs, ${steps} steps`);
console.log(`${first.provider}: ${first.perSecond.toFixed(1)} images/s, loss ${first.losses[0].toFixed(4)} -> ${first.losses.at(-1)!.toFixed(4)}`);
console.log(`cpu (${threads} threads): ${cpu.perSecond.toFixed(1)} images/s, loss ${cpu.losses[0].toFixed(4)} -> ${cpu.losses.at(-1)!.toFixed(4)}`);
console.log(`speed-up ${(first.perSecond / cpu.perSecond).toFixed(2)}x; largest relative loss difference ${worst.toExponential(2)} (tolerance ${cpuOnly ? 0 : tolerance})`);
const ok = cpuOnly ? worst === 0 : worst <= tolerance;
console.log(ok ? 'gpu-check: OK' : 'gpu-check: the losses disagree');
process.exit(ok ? 0 : 1);

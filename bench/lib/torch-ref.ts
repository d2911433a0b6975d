/**
 * Runs the PyTorch CPU reference `../shared/bench/torch_ref.py` (Debian's python3-torch) and
 * parses its `name value` lines; undefined (with the reason) when python or torch is missing.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

export const PYTHON = '/usr/bin/python3';

/** Where torch_ref.py is, looked for next to the working directory's repository. */
export function findTorchRef(): string | undefined {
  return [resolve(process.cwd(), '../shared/bench/torch_ref.py'), resolve(process.cwd(), '../../shared/bench/torch_ref.py')].find((p) => existsSync(p));
}

/**
 * The figures of one torch_ref.py run (e.g. `embed_images_per_s`, `flow_train_b16_vectors_per_s`).
 *
 * @example
 *   const r = await runTorchRef(['--width', '64', '--seconds', '10']);
 *   if ('figures' in r) console.log(r.figures.embed_images_per_s);
 */
export async function runTorchRef(args: string[]): Promise<{ figures: Record<string, number>; command: string; seconds: number } | { skipped: string }> {
  const script = findTorchRef();
  if (!script) return { skipped: 'torch_ref.py not found (expected ../shared/bench/torch_ref.py)' };
  if (!existsSync(PYTHON)) return { skipped: `${PYTHON} not found` };
  const command = `${PYTHON} ${script} ${args.join(' ')}`;
  const t0 = performance.now();
  try {
    const { stdout } = await promisify(execFile)(PYTHON, [script, ...args], { maxBuffer: 1 << 20 });
    const figures: Record<string, number> = {};
    for (const m of stdout.matchAll(/^(\w+) ([\d.]+)/gm)) figures[m[1]] = Number(m[2]);
    return { figures, command, seconds: (performance.now() - t0) / 1000 };
  } catch (err) {
    const msg = String((err as Error).message).split('\n').find((l) => /Error|error/.test(l)) ?? String((err as Error).message).split('\n')[0];
    return { skipped: `${msg.trim()} (install python3-torch and libopenblas0-pthread)` };
  }
}

/**
 * PyTorch encoder forward only (the reference's ResNet18 class, eval, no_grad), images/s:
 * for interleaving with our own measurement when the machine is shared.
 *
 * @example
 *   const r = await runTorchEmbed(64, 256, 10);
 */
export async function runTorchEmbed(width: number, batch: number, seconds: number): Promise<number | undefined> {
  const script = findTorchRef();
  if (!script || !existsSync(PYTHON)) return undefined;
  const code = [
    'import sys, torch',
    `sys.path.insert(0, ${JSON.stringify(resolve(script, '..'))})`,
    'from torch_ref import ResNet18, rate',
    'torch.manual_seed(0); torch.set_num_threads(2)',
    `enc = ResNet18(${width}).eval(); x = torch.randn(${batch}, 3, 32, 32)`,
    'with torch.no_grad():',
    `    print(rate(lambda: enc(x), ${batch}, ${seconds}))`,
  ].join('\n');
  try {
    const { stdout } = await promisify(execFile)(PYTHON, ['-c', code], { maxBuffer: 1 << 20 });
    return Number(stdout.trim().split('\n').pop());
  } catch {
    return undefined;
  }
}

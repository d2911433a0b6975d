/**
 * Peak resident memory of a real `gssd pretrain` run (the built CLI in a child process, under
 * GNU time): two SimCLR steps at the given width and batch on generated images, in the given
 * memory mode (`--memory`).
 *
 *   const mb = await pretrainPeakRss(64, 256, 2, 'low'); // number, or { skipped: reason }
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeSyntheticDataset } from '../../pipelines/synthetic-data.js';

const TIME = '/usr/bin/time';

export async function pretrainPeakRss(width: number, batch: number, threads: number, memory: 'fast' | 'low' = 'fast'): Promise<number | { skipped: string }> {
  if (!existsSync(TIME)) return { skipped: `${TIME} not found (Debian package time)` };
  if (!existsSync('dist/src/bin.js')) return { skipped: 'dist/src/bin.js not built (npm run build)' };
  const dir = await mkdtemp(join(tmpdir(), 'gssd-rss-'));
  try {
    await writeSyntheticDataset(join(dir, 'data'), { rows: 2 * batch, seed: 0 });
    const args = ['-f', 'peak_rss_kb %M', process.execPath, 'dist/src/bin.js', 'pretrain', join(dir, 'data'), '--out', join(dir, 'run')];
    args.push('--width', String(width), '--batch', String(batch), '--epochs', '1', '--threads', String(threads), '--train-runtime', 'onnx', '--memory', memory);
    const { stderr } = await promisify(execFile)(TIME, args, { maxBuffer: 16 << 20 });
    const m = /peak_rss_kb (\d+)/.exec(stderr);
    return m ? Number(m[1]) / 1024 : { skipped: 'GNU time printed no peak RSS' };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

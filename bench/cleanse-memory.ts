/**
 * Peak RSS of `gssd cleanse` on 50,000 rows (the CIFAR-10 train shards) against 500,000 rows
 * (the same shards 10 times, with new ids: `--id-col row_id` is absent from the shards, so
 * every row gets its global index as id). Issue #4's bar: the two peaks differ by < 20%.
 * A small encoder (width 4, one SimCLR epoch on one shard) and one flow epoch keep it to
 * minutes; the per-pass peak RSS is sampled every 100 ms by the run (report.json costs).
 *
 *   npm run bench:memory
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const CIFAR = resolve('../shared/data/cifar10');
const SHARDS = [0, 1, 2, 3, 4].map((k) => join(CIFAR, `train-0000${k}-of-00005.parquet`));
const CLI = resolve('dist/src/bin.js');

function gssd(args: string[]): void {
  const r = spawnSync(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`gssd ${args[0]} failed (${r.status ?? r.signal})`);
}

async function main(): Promise<void> {
  if (!existsSync(SHARDS[0])) {
    console.log(`[skip] ${CIFAR} not found`);
    return;
  }
  if (!existsSync(CLI)) throw new Error('build first: npm run build');
  const root = await mkdtemp(join(tmpdir(), 'gssd-memory-'));
  try {
    gssd(['pretrain', SHARDS[0], '--out', join(root, 'enc'), '--epochs', '1', '--width', '4', '--batch', '128', '--log', 'silent']);
    const results: { rows: number; peakMB: number; perPass: Record<string, number>; seconds: number }[] = [];
    for (const repeat of [1, 10]) {
      const out = join(root, `run-${repeat}`);
      const inputs = Array.from({ length: repeat }, () => SHARDS).flat();
      const started = Date.now();
      gssd(['cleanse', ...inputs, '--id-col', 'row_id', '--encoder', join(root, 'enc', 'encoder'), '--flow-epochs', '1', '--out', out, '--log', 'silent']);
      const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
      const perPass = Object.fromEntries(Object.entries(report.costs as Record<string, { peakRssMB: number }>).map(([k, v]) => [k, v.peakRssMB]));
      results.push({ rows: report.rows, peakMB: Math.max(...Object.values(perPass)), perPass, seconds: (Date.now() - started) / 1000 });
      console.log(`rows ${report.rows}: peak RSS ${results.at(-1)!.peakMB} MB in ${results.at(-1)!.seconds.toFixed(0)} s; per pass ${JSON.stringify(perPass)}`);
      await rm(out, { recursive: true, force: true });
    }
    const ratio = results[1].peakMB / results[0].peakMB;
    const verdict = `peak RSS 500k / 50k = ${ratio.toFixed(3)} (${ratio < 1.2 ? 'within' : 'NOT within'} the 20% bar)`;
    console.log(verdict);
    await mkdir('bench/results', { recursive: true });
    await writeFile('bench/results/cleanse-memory.json', JSON.stringify({ date: new Date().toISOString(), results, ratio }, null, 1));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});

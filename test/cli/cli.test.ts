import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { cliBuilt, runCli } from '../pipelines/fixture.js';

const SHARD = resolve('../shared/data/cifar10/train-00000-of-00005.parquet');
if (!existsSync(SHARD)) console.log(`[skip] ${SHARD} not found: the CIFAR-10 inspect test is skipped`);

describe.skipIf(!cliBuilt())('gssd command line', () => {
  it('lists every command in --help and has help for each', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['demo', 'inspect', 'cleanse', 'pretrain', 'poison', 'evaluate', 'train', 'test', 'export-onnx']) {
      expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
      const h = await runCli([c, '--help']);
      expect(h.code).toBe(0);
      expect(h.stdout).toContain(`Usage: gssd ${c}`);
    }
  });

  it('answers a bad command, option or value in one line with exit code 2', async () => {
    for (const args of [['frob'], ['cleanse', '--nope'], ['cleanse', 'x.parquet', '--out', 'o', '--alpha-clean', '2'], ['cleanse', 'x.parquet', '--out', 'o', '--relabel-margin', '-1'], ['inspect']]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
    // the alpha fractions only size the fixed cut: with the default (adaptive) cut they would be ignored
    const r = await runCli(['cleanse', resolve('package.json'), '--out', 'o', '--alpha-clean', '0.5']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/--alpha-clean and --alpha-poison size the fixed cut; add --cut fixed/);
    const paper = await runCli(['cleanse', resolve('package.json'), '--out', 'o', '--target-detection', 'paper', '--robust-alpha', '0.3']);
    expect(paper.code).toBe(2);
    expect(paper.stderr.trim()).toMatch(/--robust-alpha sets robust detection; it does nothing with --target-detection paper/);
    const margin = await runCli(['cleanse', resolve('package.json'), '--out', 'o', '--relabel-margin', 'none']);
    expect(margin.stderr.trim()).toBe('gssd cleanse: Expected `--relabel-margin` to be off or a number from 0 and up, got `none`');
    const memory = await runCli(['cleanse', resolve('package.json'), '--out', 'o', '--encoder', 'enc', '--memory', 'low']);
    expect(memory.code).toBe(2);
    expect(memory.stderr.trim()).toBe('gssd cleanse: --memory low sets SimCLR pretraining; with --encoder there is none');
    const scale = await runCli(['cleanse', resolve('package.json'), '--out', 'o', '--target-detection', 'paper', '--robust-nd-scale', 'linear']);
    expect(scale.code).toBe(2);
    expect(scale.stderr.trim()).toMatch(/--robust-nd-scale sets robust detection; it does nothing with --target-detection paper/);
  });

  it('prints the usage on stderr with exit code 2 when no command is given, and suggests the nearest command or option', async () => {
    const none = await runCli([]);
    expect(none.code).toBe(2);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/^Usage: gssd <command> \[options\]$/m);
    expect(none.stderr).toMatch(/^ {2}cleanse {2,}Find the attacked classes/m);
    const command = await runCli(['clense', 'x.parquet']);
    expect(command.code).toBe(2);
    expect(command.stderr).toBe('gssd: unknown command `clense`; did you mean `cleanse`? (gssd --help)\n');
    const option = await runCli(['cleanse', 'x.parquet', '--out', 'o', '--flow-epoch', '3']);
    expect(option.code).toBe(2);
    expect(option.stderr).toBe('gssd cleanse: unknown option --flow-epoch; did you mean --flow-epochs?\n');
    const far = await runCli(['train', '--zzzz']);
    expect(far.code).toBe(2);
    expect(far.stderr).toBe('gssd train: unknown option --zzzz (gssd train --help lists the options)\n');
  });

  it.skipIf(!existsSync(SHARD))('inspects a CIFAR-10 shard: rows, columns, labels, image formats', async () => {
    const r = await runCli(['inspect', SHARD, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const { total } = JSON.parse(r.stdout);
    expect(total.rows).toBe(10_000);
    expect(total.columns.map((c: { name: string }) => c.name)).toEqual(['id', 'label', 'image']);
    expect(Object.values(total.labels as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(10_000);
    expect(total.imageFormats).toEqual({ jpeg: 256 });
    expect(total.imageSizes).toEqual({ '32x32': 256 });
  });

  it('reports JSON lines with --log json', async () => {
    const r = await runCli(['inspect', 'missing.parquet', '--log', 'json']);
    expect(r.code).toBe(2);
    const event = JSON.parse(r.stderr.trim());
    expect(event).toMatchObject({ level: 'error', event: 'error', exitCode: 2 });
    expect(event.message).toContain('missing.parquet');
  });
});

import { describe, expect, it } from 'vitest';
import { cliBuilt, runCli } from '../pipelines/fixture.js';

describe.skipIf(!cliBuilt())('gssd command line', () => {
  it('lists every command in --help and has help for each', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['demo', 'inspect', 'cleanse', 'pretrain', 'poison', 'evaluate', 'train', 'test']) {
      expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
      const h = await runCli([c, '--help']);
      expect(h.code).toBe(0);
      expect(h.stdout).toContain(`Usage: gssd ${c}`);
    }
  });

  it('answers a bad command, option or value in one line with exit code 2', async () => {
    for (const args of [['frob'], ['cleanse', '--nope'], ['cleanse', 'x.parquet', '--out', 'o', '--alpha-clean', '2'], ['inspect']]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
  });

  it('reports JSON lines with --log json', async () => {
    const r = await runCli(['inspect', 'missing.parquet', '--log', 'json']);
    expect(r.code).toBe(2);
    const event = JSON.parse(r.stderr.trim());
    expect(event).toMatchObject({ level: 'error', event: 'error', exitCode: 2 });
    expect(event.message).toContain('missing.parquet');
  });
});

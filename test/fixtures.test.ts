import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { inspect } from '../pipelines/inspect.js';
import { InputError } from '../src/errors.js';
import { classNamesOf } from '../src/io/class-names.js';
import { readBatches, readFooters } from '../src/io/read.js';
import { decode, PIXELS_COLUMN, REASON_COLUMN } from '../src/stages/decode.js';
import { FIXTURES, expectedRgb, labelCounts, type FixtureSpec } from '../fixtures/spec.js';
import { cliBuilt, runCli } from './pipelines/fixture.js';

/**
 * The golden files of `fixtures/` (written by gssd's own writer and by DuckDB, see
 * fixtures/spec.ts; `npm run fixtures:make` rewrites them): `gssd inspect --json` gives the
 * committed output beside each file, the reader gives every row with its id, label and image
 * as written, and a file gssd cannot use is refused in one line naming it. Paths are relative
 * to the repository root, as in the committed outputs (vitest runs there).
 */
const path = (spec: FixtureSpec) => `fixtures/${spec.name}.parquet`;
const readable = FIXTURES.filter((f) => !f.refused);
const refused = FIXTURES.filter((f) => f.refused);

describe('fixtures/', () => {
  it('holds every fixture and its expected inspect output, under 1 MB together', async () => {
    let bytes = 0;
    for (const spec of FIXTURES) {
      const expected = `fixtures/${spec.name}.inspect.${spec.refused ? 'stderr' : 'json'}`;
      expect(existsSync(path(spec)), path(spec)).toBe(true);
      expect(existsSync(expected), expected).toBe(true);
      bytes += (await readFile(path(spec))).length + (await readFile(expected)).length;
    }
    expect(bytes).toBeLessThan(1_000_000);
    expect(new Set(FIXTURES.map((f) => f.writer))).toEqual(new Set(['gssd', 'duckdb']));
  });

  it.each(readable.map((f) => [f.name, f] as const))('inspect %s gives the committed JSON', async (_, spec) => {
    const expected = await readFile(`fixtures/${spec.name}.inspect.json`, 'utf8');
    // what the CLI prints for --json (src/cli/inspect-command.ts)
    expect(JSON.stringify(await inspect([path(spec)]), null, 1) + '\n').toBe(expected);
    const { inputs } = JSON.parse(expected);
    expect(inputs[0]).toMatchObject({ rows: spec.rows, labels: labelCounts(spec) });
  });

  it.each(readable.map((f) => [f.name, f] as const))('reads %s: every row with its id, label and image', async (_, spec) => {
    // mismatches are collected, not asserted row by row (5,000 expect calls take seconds)
    const bad: string[] = [];
    let r = 0;
    for await (const batch of decode(readBatches([path(spec)], { batchRows: 7 }), { imageSize: spec.size })) {
      const ids = batch.getChild('id')!;
      const labels = batch.getChild('label')!;
      const pixels = batch.getChild(PIXELS_COLUMN)!;
      const reasons = batch.getChild(REASON_COLUMN)!;
      for (let i = 0; i < batch.numRows; i++, r++) {
        const at = `row ${r}`;
        // a file without ids gets the row index as its id
        if (ids.get(i) !== BigInt(r)) bad.push(`${at}: id ${ids.get(i)}`);
        if (labels.get(i) !== r % spec.classes) bad.push(`${at}: label ${labels.get(i)}`);
        const format = spec.formats[r % spec.formats.length];
        const got = pixels.get(i) as Uint8Array | null;
        if (format === 'null') {
          if (got !== null || reasons.get(i) !== 'undecodable image: no image bytes') bad.push(`${at}: a null image gave ${reasons.get(i)}`);
          continue;
        }
        if (got === null) {
          bad.push(`${at} (${format}): ${reasons.get(i)}`);
          continue;
        }
        const want = expectedRgb(format, r % spec.distinct, spec.size);
        // PNG is lossless; quality-90 JPEG of these smooth gradients stays within a few levels
        const diff = meanAbsDiff(got, want);
        if (format.startsWith('png') ? diff !== 0 : diff >= 3) bad.push(`${at} (${format}): pixels off by ${diff.toFixed(2)} on average`);
      }
    }
    expect(bad, spec.name).toEqual([]);
    expect(r).toBe(spec.rows);
    const [footer] = await readFooters([path(spec)]);
    expect([footer.rows, footer.hasId]).toEqual([spec.rows, spec.hasId]);
    if (spec.imageColumn === 'img') expect(classNamesOf(footer.metadata, 'label')).toEqual(['ring', 'cross', 'stripes', 'dots', 'square']);
  });

  it.each(refused.map((f) => [f.name, f] as const))('refuses %s with an InputError naming the file', async (_, spec) => {
    const err = await inspect([path(spec)]).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    const expected = (await readFile(`fixtures/${spec.name}.inspect.stderr`, 'utf8')).trim();
    expect(`gssd inspect: ${(err as Error).message}`).toBe(expected);
  });
});

describe.skipIf(!cliBuilt())('fixtures/ through the built CLI', () => {
  it('prints the committed JSON for a DuckDB Hugging Face file, byte for byte', async () => {
    const r = await runCli(['inspect', '--json', 'fixtures/duckdb-hf-struct-png.parquet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(await readFile('fixtures/duckdb-hf-struct-png.inspect.json', 'utf8'));
  });

  it('refuses each unusable fixture in one stderr line naming the file, exit 2, no stack trace', async () => {
    const results = await Promise.all(refused.map((spec) => runCli(['inspect', '--json', path(spec)])));
    for (const [k, spec] of refused.entries()) {
      const r = results[k];
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(await readFile(`fixtures/${spec.name}.inspect.stderr`, 'utf8'));
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(path(spec));
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Infinity;
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Every `from '...'` specifier of the TypeScript files under `dir` (recursively), with its file. */
async function importsUnder(dir: string): Promise<{ file: string; spec: string }[]> {
  const out: { file: string; spec: string }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const file = join(entry.parentPath, entry.name);
    const text = await readFile(file, 'utf8');
    for (const m of text.matchAll(/\bfrom\s+'([^']+)'/g)) out.push({ file, spec: m[1] });
  }
  return out;
}

/** The process's entry points, the CLI layer: they may import anything. */
const CLI_LAYER = /^src\/(cli\/|cli\.ts$|bin\.ts$|process-guard\.ts$)/;

/** The library's entry point: it re-exports the pipelines (but nothing of the CLI). */
const LIBRARY_ENTRY = 'src/index.ts';

describe('layers', () => {
  it('src/models imports none of io, stages, pipelines or cli', async () => {
    const wrong = (await importsUnder('src/models')).filter(({ spec }) => /^\.\.\/(io|stages|cli)\/|pipelines\//.test(spec));
    expect(wrong.map(({ file, spec }) => `${file}: ${spec}`)).toEqual([]);
  });

  it('nothing under pipelines/ or src/ (outside the CLI) imports the CLI', async () => {
    const all = [...(await importsUnder('pipelines')), ...(await importsUnder('src'))];
    const wrong = all.filter(({ file, spec }) => !CLI_LAYER.test(file) && /(^|\/)cli(\/|\.js$)/.test(spec));
    expect(wrong.map(({ file, spec }) => `${file}: ${spec}`)).toEqual([]);
  });

  it('src/ below the CLI imports no pipeline (stages, io, detect, ... -> pipelines is upward)', async () => {
    const wrong = (await importsUnder('src')).filter(
      ({ file, spec }) => !CLI_LAYER.test(file) && file !== LIBRARY_ENTRY && /(^|\/)pipelines\//.test(spec),
    );
    expect(wrong.map(({ file, spec }) => `${file}: ${spec}`)).toEqual([]);
  });
});

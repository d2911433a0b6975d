import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { cliBuilt } from '../pipelines/fixture.js';
import { CONSUMER_SOURCE, CONSUMER_TSCONFIG, TSC } from './consumer.js';

/**
 * A strict NodeNext TypeScript project that imports 'gssd' (linked to this repo's build, as
 * `npm test` builds it) type-checks: `cleanse()` and `pretrain()` need only inputs and out,
 * take an AbortSignal and one `columns` option shared with readBatches and decode.
 * (test/package/install.test.ts runs the same check against the packed and installed package.)
 */
describe.skipIf(!cliBuilt())('the published types in a strict NodeNext consumer', () => {
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'gssd-types-'));
    await mkdir(join(root, 'node_modules'));
    await symlink(resolve('.'), join(root, 'node_modules', 'gssd'), 'dir');
    await symlink(resolve('node_modules/it-pipe'), join(root, 'node_modules', 'it-pipe'), 'dir');
    await writeFile(join(root, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    await writeFile(join(root, 'tsconfig.json'), JSON.stringify(CONSUMER_TSCONFIG));
    await writeFile(join(root, 'main.ts'), CONSUMER_SOURCE);
  });

  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('compiles with no error, and reports a wrong call (the check is real)', async () => {
    await writeFile(join(root, 'bad.ts'), `import { cleanse } from 'gssd';\nawait cleanse({ inputs: ['a'] });\n`);
    await writeFile(join(root, 'tsconfig.json'), JSON.stringify({ ...CONSUMER_TSCONFIG, files: ['main.ts', 'bad.ts'] }));
    const out = await new Promise<string>((done) => execFile(process.execPath, [TSC, '-p', root], (_err, stdout, stderr) => done(stdout + stderr)));
    const errors = out.split('\n').filter((l) => /error TS/.test(l));
    expect(errors.filter((l) => !l.includes('bad.ts(')), out).toEqual([]);
    expect(errors.join('\n')).toMatch(/bad\.ts\(2,\d+\): error TS(2345|2741)/);
  }, 120_000);
});

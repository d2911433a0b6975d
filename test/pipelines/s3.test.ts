import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeSyntheticDataset } from '../../pipelines/synthetic-data.js';
import { ResNet } from '../../src/models/resnet.js';
import { saveResNet } from '../../src/models/save.js';
import { initBackend } from '../../src/models/backend.js';
import { cliBuilt, readOutput, runCli, tempDir, type OutRow } from './fixture.js';
import { S3_TEST_ENV, TestS3 } from '../io/s3-fixture.js';

/**
 * `gssd inspect` and `gssd cleanse` with inputs and --out on an S3-compatible store (s3rver on
 * 127.0.0.1) and, with the same assertions, on a shared directory: 300 synthetic rows in 3
 * shards, an untrained width-4 encoder, 1 flow epoch. The output rows must equal a run on the
 * local files; a run killed while it commits a part shows no incomplete part and resumes to
 * the keys and bytes of an uninterrupted run.
 */
describe.skipIf(!cliBuilt())('s3:// and shared-directory inputs and outputs', () => {
  let root: string;
  let s3: TestS3;
  let files: string[];
  let encoder: string;
  let reference: { rows: OutRow[]; report: { splits: Record<string, number>; flagged: unknown }; parts: Map<string, Buffer>; inspect: string };
  const options = () => ['--encoder', encoder, '--flow-epochs', '1', '--target-detection', 'robust', '--robust-alpha', '0.9', '--batch-rows', '50', '--part-rows', '60', '--checkpoint-rows', '100', '--seed', '3', '--log', 'json'];
  /** Each cleanse here is a few seconds on an idle machine; this allows for a loaded one. */
  const SLOW = 400_000;
  const gssd = (args: string[], env: Record<string, string> = {}) => runCli([...args, '--s3-endpoint', s3.endpoint], { env: { ...S3_TEST_ENV, ...env } });

  /** Where inputs and outputs live on each backend, and how to read an output back. */
  const BACKENDS = [
    {
      name: 'dir',
      inputs: () => join(root, 'shared', 'shards') + '/',
      out: (name: string) => join(root, 'shared', name),
      /** The output's files (relative paths) and their bytes, housekeeping left out. */
      files: async (out: string) => {
        const names = (await readdir(out, { recursive: true })).map(String).filter((n) => /^(clean|poisoned|uncertain|rejected)\/part-\d+\.parquet$|^report\.(json|html)$/.test(n)).sort();
        return new Map(await Promise.all(names.map(async (n) => [n, await readFile(join(out, n))] as const)));
      },
    },
    {
      name: 's3',
      inputs: () => 's3://lake/shards/',
      out: (name: string) => `s3://lake/${name}`,
      files: async (out: string) => {
        const prefix = out.slice('s3://lake/'.length) + '/';
        const keys = (await s3.list('lake', prefix)).map((o) => o.key);
        return new Map(await Promise.all(keys.map(async (k) => [k.slice(prefix.length), await s3.get('lake', k)] as const)));
      },
    },
  ] as const;

  /** Writes an output's files to a local directory, for `readOutput`. */
  const materialise = async (contents: Map<string, Buffer>, name: string): Promise<string> => {
    const dir = join(root, 'read', name);
    await rm(dir, { recursive: true, force: true });
    for (const [rel, bytes] of contents) {
      await mkdir(dirname(join(dir, rel)), { recursive: true });
      await writeFile(join(dir, rel), bytes);
    }
    return dir;
  };

  beforeAll(async () => {
    root = await tempDir('s3');
    s3 = await TestS3.start(['lake']);
    const shards = join(root, 'shared', 'shards');
    await writeSyntheticDataset(shards, { rows: 300, seed: 11, partRows: 100 });
    await s3.putDir(shards, 'lake', 'shards/');
    files = (await readdir(shards)).sort().map((n) => join(shards, n));
    await initBackend('cpu');
    const net = new ResNet({ width: 4, imageSize: 32, seed: 1 });
    encoder = join(root, 'enc');
    await saveResNet(net, encoder);
    net.dispose();
    const local = join(root, 'local');
    const r = await gssd(['cleanse', ...files, ...options(), '--out', local, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const names = (await readdir(local, { recursive: true })).map(String).filter((n) => /part-\d+\.parquet$/.test(n)).sort();
    const parts = new Map(await Promise.all(names.map(async (n) => [n, await readFile(join(local, n))] as const)));
    const inspect = await gssd(['inspect', ...files, '--json']);
    expect(inspect.code, inspect.stderr).toBe(0);
    reference = { rows: await readOutput(local), report: JSON.parse(r.stdout), parts, inspect: inspect.stdout };
    expect(reference.rows).toHaveLength(300);
  }, SLOW);

  afterAll(async () => {
    await s3?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  describe.each(BACKENDS)('on $name', (b) => {
    it('inspect reads the inputs as the local files', async () => {
      const here = await gssd(['inspect', b.inputs(), '--json']);
      expect(here.code, here.stderr).toBe(0);
      const named = JSON.parse(here.stdout);
      expect(named.inputs.map((s: { input: string }) => s.input)).toEqual(['part-00000.parquet', 'part-00001.parquet', 'part-00002.parquet'].map((n) => b.inputs() + n));
      const unname = (j: { inputs: { input: string }[]; total: unknown }) => ({ ...j, inputs: j.inputs.map((s) => ({ ...s, input: s.input.split('/').pop() })) });
      expect(unname(named)).toEqual(unname(JSON.parse(reference.inspect)));
    });

    it('cleanse writes the rows of a run on the local files, every part complete', async () => {
      const out = b.out('whole');
      const r = await gssd(['cleanse', b.inputs(), ...options(), '--out', out, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout);
      expect([report.splits, report.flagged]).toEqual([reference.report.splits, reference.report.flagged]);
      const contents = await b.files(out);
      expect([...contents.keys()].filter((k) => k.includes('part-'))).toEqual([...reference.parts.keys()]);
      expect(await readOutput(await materialise(contents, `${b.name}-whole`))).toEqual(reference.rows);
      if (b.name === 's3') {
        const manifest = JSON.parse(contents.get('manifest.json')!.toString());
        expect(manifest.files.map((f: { key: string }) => f.key)).toEqual([...contents.keys()].filter((k) => k !== 'manifest.json'));
        for (const f of manifest.files) expect(f.bytes).toBe(contents.get(f.key)!.length);
      }
    }, SLOW);

    it('a run killed while it commits a part shows only complete parts, and resumes to the keys and bytes of an uninterrupted run', async () => {
      // the inputs of the reference run (the local files), so that the parts must equal its bytes
      const out = b.out('killed');
      const args = ['cleanse', ...files, ...options(), '--out', out];
      const crash = b.name === 's3' ? 's3-publish:2' : 'sink-commit:2';
      const k = await gssd(args, { GSSD_CRASH_AT: crash });
      expect(k.signal, k.stderr).toBe('SIGKILL');
      const partial = await b.files(out);
      const visible = [...partial.keys()].filter((key) => key.includes('part-'));
      // the part being committed is not there under its name; the ones before it are whole
      expect(visible.length).toBeGreaterThan(0);
      expect(visible.length).toBeLessThan(reference.parts.size);
      for (const key of visible) expect(partial.get(key)!.equals(reference.parts.get(key)!), key).toBe(true);
      expect(partial.has('report.json') || partial.has('manifest.json')).toBe(false);
      const resumed = await gssd([...args, '--resume']);
      expect(resumed.code, resumed.stderr).toBe(0);
      const after = await b.files(out);
      const parts = [...after.keys()].filter((key) => key.includes('part-'));
      expect(parts).toEqual([...reference.parts.keys()]);
      for (const key of parts) expect(after.get(key)!.equals(reference.parts.get(key)!), key).toBe(true);
      expect(after.has('report.json') && after.has('report.html')).toBe(true);
      expect(after.has('manifest.json')).toBe(b.name === 's3');
    }, SLOW);
  });

  it('an s3:// --out that holds other objects, or a gssd output without --force, is refused in one line', async () => {
    const { cleanse } = await import('../../pipelines/cleanse.js');
    const { setS3Endpoint } = await import('../../src/io/s3-client.js');
    const { InputError, UsageError } = await import('../../src/errors.js');
    setS3Endpoint(s3.endpoint);
    const run = (inputs: string[], out: string) => cleanse({ inputs, out, encoder, flowEpochs: 1, backend: 'cpu' });
    await s3.put('lake', 'taken/notes.txt', 'not gssd');
    const foreign = await errorOf(run(files, 's3://lake/taken'));
    expect(foreign).toBeInstanceOf(UsageError);
    expect(foreign.message).toBe('s3://lake/taken holds objects that are not a gssd output (notes.txt); choose an empty or new prefix');
    const again = await errorOf(run(['s3://lake/shards/'], 's3://lake/whole'));
    expect(again).toBeInstanceOf(UsageError);
    expect(again.message).toMatch(/^s3:\/\/lake\/whole is not empty; use --resume .* or --force/);
    const missing = await errorOf(run(['s3://lake/shards/gone.parquet'], join(root, 'gone')));
    expect(missing).toBeInstanceOf(InputError);
    expect(missing.message).toBe('s3://lake/shards/gone.parquet: no such object');
    expect(existsSync(join(root, 'gone', 'clean'))).toBe(false);
  });
});

async function errorOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

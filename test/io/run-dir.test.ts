import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBatches } from '../../src/io/read.js';
import { RunDir } from '../../src/io/run-dir.js';
import { startServer, tempDir, writeSmallDataset } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterAll(async () => cleanup());

describe('RunDir', () => {
  it('adopt() removes what killed runs left (temp dir, *.tmp-PID files); close() its temp dir and lock', async () => {
    const out = join(dir, 'run');
    await mkdir(join(out, 'tmp'), { recursive: true });
    await mkdir(join(out, 'checkpoint'), { recursive: true });
    await writeFile(join(out, 'tmp', 'gssd-123-abc.parquet'), 'partial download');
    await writeFile(join(out, 'report.html.tmp-123'), '<html');
    await writeFile(join(out, 'checkpoint', 'state.json.tmp-123'), '{');
    await writeFile(join(out, 'checkpoint', 'state.json'), '{}');
    const run = await RunDir.open(out, 'cleanse');
    await run.adopt();
    expect((await readdir(out)).sort()).toEqual(['checkpoint', 'gssd.lock']);
    expect(await readdir(join(out, 'checkpoint'))).toEqual(['state.json']);
    await mkdir(run.tempDir);
    await run.close();
    expect(await readdir(out)).toEqual(['checkpoint']);
  });

  it('deletes nothing in a directory it did not adopt (not a gssd run)', async () => {
    const out = join(dir, 'foreign');
    await mkdir(join(out, 'tmp'), { recursive: true });
    await writeFile(join(out, 'notes.txt.tmp-1'), 'mine');
    const run = await RunDir.open(out, 'cleanse');
    await run.close();
    expect((await readdir(out)).sort()).toEqual(['notes.txt.tmp-1', 'tmp']);
  });

  it('tells its housekeeping entries from foreign files', () => {
    const own = new Set(['report.html', 'checkpoint']);
    for (const name of ['gssd.lock', 'tmp', 'report.html.tmp-4242', 'gssd.lock.tmp-7', 'gssd.lock.stale-7']) expect(RunDir.isHousekeeping(name, own), name).toBe(true);
    for (const name of ['notes.txt', 'notes.txt.tmp-1', 'report.html.tmp', 'tmp-1']) expect(RunDir.isHousekeeping(name, own), name).toBe(false);
  });

  it('downloads a URL without Range support into the run\'s temp dir, not the OS one, and removes it', async () => {
    // the reader does not decode images: any bytes will do (and are quick to make)
    writeSmallDataset(join(dir, 'd.parquet'), 30, { images: Array.from({ length: 30 }, (_, i) => new Uint8Array([i])) });
    const s = await startServer(dir, { ranges: false });
    const run = await RunDir.open(join(dir, 'dl'), 'cleanse');
    try {
      await run.adopt();
      const before = (await readdir(tmpdir())).filter((n) => n.startsWith(`gssd-${process.pid}-`));
      let rows = 0;
      let during: string[] = [];
      for await (const b of readBatches([`${s.url}/d.parquet`], { tempDir: run.tempDir, retryDelayMs: 1 })) {
        rows += b.numRows;
        during = await readdir(run.tempDir);
      }
      expect(rows).toBe(30);
      expect(during).toEqual([expect.stringMatching(new RegExp(`^gssd-${process.pid}-[0-9a-f-]+\\.parquet$`))]);
      expect(await readdir(run.tempDir)).toEqual([]);
      expect((await readdir(tmpdir())).filter((n) => n.startsWith(`gssd-${process.pid}-`))).toEqual(before);
    } finally {
      await run.close();
      await s.close();
    }
  });
});

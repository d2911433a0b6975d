import { open, rename, rm, mkdir } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { crashPoint } from './fault.js';

/**
 * Writes a file so that readers see either the old content or the whole new content, never
 * a part: write to `<path>.tmp-<pid>`, fsync, rename over `path`, fsync the directory.
 *
 * @example
 *   await writeFileAtomic('out/checkpoint/state.json', JSON.stringify(state));
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  crashPoint('atomic-write');
  crashPoint(`atomic-write/${basename(path)}`); // e.g. GSSD_CRASH_AT=atomic-write/report.html:1
  await rename(tmp, path);
  await syncDir(dirname(path));
}

/** fsync a directory so that a rename inside it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch {
    // some filesystems refuse fsync on directories; the rename is still atomic
  } finally {
    await fh.close();
  }
}

import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Every file below `dir` (any depth, symbolic links to files included), as full paths, sorted.
 *
 * @example
 *   const parts = (await filesUnder('shards')).filter((f) => f.endsWith('.parquet'));
 */
export async function filesUnder(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    // `parentPath` (Node >= 20.12) or `path` (older 20.x) is the directory holding the entry
    const parent = (entry as { parentPath?: string }).parentPath ?? (entry as { path?: string }).path ?? dir;
    const full = join(parent, entry.name);
    if (entry.isFile() || (entry.isSymbolicLink() && (await stat(full).then((s) => s.isFile(), () => false)))) files.push(full);
  }
  return files.sort();
}

import { rename, rm } from 'node:fs/promises';

/**
 * Replaces directory `dir` by one that `write` fills: removes a leftover `<dir>.tmp`, lets
 * `write` fill `<dir>.tmp`, removes `dir`, renames `<dir>.tmp` to `dir`. A crash leaves `dir`
 * complete (old or new) or absent, never half written; a `<dir>.tmp` it leaves is removed by
 * the next call. If `write` throws, `dir` is untouched.
 *
 * @example
 *   await replaceDir('run/checkpoint/flows-e3', (tmp) => saveFlowBankState(state, tmp));
 */
export async function replaceDir(dir: string, write: (tmp: string) => Promise<unknown>): Promise<void> {
  const tmp = `${dir}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await write(tmp);
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
}

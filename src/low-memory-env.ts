/**
 * `gssd pretrain --memory low` on onnxruntime runs its training sessions without
 * onnxruntime's CPU arena, so each tensor is malloc'ed and freed; for a freed tensor to leave
 * the RSS, glibc must hand it out with mmap, not from its heap, which it decides with settings
 * it reads from the environment once, at process start (`MALLOC_MMAP_THRESHOLD_`,
 * `MALLOC_ARENA_MAX`, `GLIBC_TUNABLES`). So such a run starts itself again in a child process
 * with them set: same Node, same flags and arguments, the same stdin, stdout and stderr;
 * SIGINT, SIGTERM and SIGHUP are passed on; the child's exit code is returned and a signal
 * that killed it kills the parent the same way. A child whose parent dies (a SIGKILL) kills
 * itself with SIGKILL.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';

/**
 * glibc malloc settings of a low-memory run: blocks from 256 KiB on come from mmap and go back
 * to the system when freed (a fixed threshold; glibc otherwise raises it to the largest block
 * freed so far, up to 32 MiB, and keeps such blocks in its heap), in at most two malloc arenas,
 * and mmap'ed blocks in transparent huge pages (`glibc.malloc.hugetlb=1`, glibc 2.35+; older
 * ones ignore it) where the kernel allows them on request: a fresh block then faults in 2 MiB
 * at a time, not 4 KiB, which took the extra CPU time of a width-16 step from about 2.5x to
 * 1.5x (README "Performance").
 */
export const LOW_MEMORY_ENV: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: '262144',
  MALLOC_ARENA_MAX: '2',
  GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1',
};

/**
 * Whether this process should start again with `LOW_MEMORY_ENV`: on Linux (glibc's settings),
 * unless it already runs with them (or with the user's own value of any of them).
 *
 * @example
 *   if (needsLowMemoryEnv()) return await rerunWithEnv(LOW_MEMORY_ENV);
 */
export function needsLowMemoryEnv(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): boolean {
  return platform === 'linux' && Object.keys(LOW_MEMORY_ENV).every((k) => env[k] === undefined);
}

/** Set in the child to its parent's pid. */
const RERUN_OF = 'GSSD_RERUN_OF';

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Runs this process's command line again in a child with `env` added, and resolves to its exit
 * code once it ends (stdio shared). When the child dies of a signal, this process sends itself
 * the same signal (so it ends as the child did, SIGKILL included).
 *
 * @example
 *   return await rerunWithEnv({ MALLOC_ARENA_MAX: '2' }); // from a command's run()
 */
export async function rerunWithEnv(env: Readonly<Record<string, string>>): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    env: { ...process.env, ...env, [RERUN_OF]: String(process.pid) },
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
  });
  const pass = (signal: NodeJS.Signals) => {
    child.kill(signal);
  };
  for (const s of FORWARDED) process.on(s, pass);
  let ended: [number | null, NodeJS.Signals | null];
  try {
    ended = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  } finally {
    for (const s of FORWARDED) process.off(s, pass); // before re-raising: the default action again
  }
  const [code, signal] = ended;
  if (signal) {
    process.kill(process.pid, signal);
    await new Promise((resolve) => setTimeout(resolve, 1000)); // the signal ends the process first
  }
  return code ?? 1;
}

/**
 * In a child started by `rerunWithEnv`: dies (SIGKILL) when the parent does, so a killed
 * `gssd` leaves no process behind. Does nothing in a process `rerunWithEnv` did not start.
 *
 * @example
 *   followParent(); // first thing in the child's path
 */
export function followParent(): void {
  if (!process.channel || process.env[RERUN_OF] !== String(process.ppid)) return;
  process.channel.unref();
  process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
}

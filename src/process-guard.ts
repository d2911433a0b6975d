/**
 * The last line of defence of the `gssd` executable: an exception or rejection that nothing
 * caught (thrown inside a dependency's callback, say) ends the process with one line on
 * stderr and exit code 1 instead of Node's stack trace. `GSSD_DEBUG=1` adds the stack.
 */
import { errorMessage } from './errors.js';
import { systemError } from './cli/system-error.js';

/**
 * Installs the handlers once per process.
 *
 * @example
 *   installProcessGuard();           // first thing in bin.ts
 */
export function installProcessGuard(): void {
  if (installed) return;
  installed = true;
  const fail = (err: unknown) => {
    const sys = systemError(err);
    if (sys) {
      process.stderr.write(`gssd: ${sys.message}\n`);
      process.exit(sys.exitCode);
    }
    const exitCode = (err as { exitCode?: number } | null)?.exitCode === 2 ? 2 : 1;
    const message = errorMessage(err).split('\n')[0] || String((err as Error | null)?.name ?? err);
    process.stderr.write(`gssd: ${message}\n`);
    if (process.env.GSSD_DEBUG) process.stderr.write(`${(err as Error | null)?.stack ?? ''}\n`);
    else if (exitCode === 1) process.stderr.write('(an internal error: set GSSD_DEBUG=1 for the stack trace)\n');
    process.exit(exitCode);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
}

let installed = false;

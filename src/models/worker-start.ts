import type { Worker } from 'node:worker_threads';

/**
 * Starts `count` worker threads made by `make` and waits until each has said it is ready:
 * `readiness(message)` returns true for the ready message, a text for a start-up failure
 * the worker reports, undefined for any other message. If one fails, all are terminated
 * and the error names `what`.
 *
 * @example
 *   const workers = await startWorkers(2, (i) => new Worker(script, { workerData: i }), (m) => (m as { ready?: boolean }).ready || undefined, 'flow worker');
 */
export async function startWorkers(
  count: number,
  make: (index: number) => Worker,
  readiness: (message: unknown) => true | string | undefined,
  what: string,
): Promise<Worker[]> {
  const workers: Worker[] = [];
  try {
    await Promise.all(
      Array.from({ length: count }, (_, i) => {
        const w = make(i);
        workers.push(w);
        return new Promise<void>((resolve, reject) => {
          const onMessage = (m: unknown) => {
            const state = readiness(m);
            if (state === undefined) return;
            w.off('message', onMessage);
            if (state === true) resolve();
            else reject(new Error(state));
          };
          w.on('message', onMessage);
          w.once('error', reject);
          w.once('exit', (code) => reject(new Error(`exited with code ${code}`)));
        });
      }),
    );
  } catch (err) {
    await Promise.all(workers.map((w) => w.terminate()));
    throw new Error(`${what} failed to start: ${(err as Error).message}`, { cause: err });
  }
  return workers;
}

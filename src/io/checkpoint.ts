import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file.js';
import { InputError } from '../errors.js';

/**
 * The checkpoint store of a run: one JSON document `DIR/checkpoint/state.json`, replaced
 * atomically, so that after a crash it holds the last committed state and nothing newer.
 * Large state (model weights) lives in files beside it that the JSON names.
 *
 * @example
 *   const store = new CheckpointStore('out');
 *   await store.save({ pass: 'embed', rowsDone: 4096 });
 *   const state = await store.load();   // null on a fresh run
 */
export class CheckpointStore<T extends object = Record<string, unknown>> {
  readonly dir: string;
  private readonly file: string;

  constructor(runDir: string) {
    this.dir = join(runDir, 'checkpoint');
    this.file = join(this.dir, 'state.json');
  }

  async load(): Promise<T | null> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new InputError(`${this.file}: the checkpoint is not valid JSON; start again without --resume`);
    }
  }

  async save(state: T): Promise<void> {
    await writeFileAtomic(this.file, JSON.stringify(state, null, 1));
  }

  /** A path for a file that belongs to the checkpoint. */
  path(name: string): string {
    return join(this.dir, name);
  }
}

import { CheckpointStore } from '../../src/io/checkpoint.js';
import { readOptions } from '../../src/io/source-settings.js';
import type { ReadOptions } from '../../src/io/read.js';
import { workFiles, type WorkFiles } from '../../src/io/work-files.js';
import type { Logger } from '../../src/log.js';
import type { CleanseOptions } from './options.js';
import type { CleanseState, PassName } from './state.js';

/** What every pass of a cleanse run gets: options, the checkpoint state, where files go. */
export class RunContext {
  readonly store: CheckpointStore<CleanseState>;
  /** The run's work files under DIR/work (caches that the run can rebuild). */
  readonly files: WorkFiles;
  private readonly elapsedBefore: number;

  constructor(
    readonly options: CleanseOptions,
    public state: CleanseState,
    readonly log: Logger,
    /** When this segment of the run started (ms since the epoch). */
    private readonly segmentStart = Date.now(),
    /** The run's temp directory (DIR/tmp): downloads of URLs without Range support. */
    readonly tempDir?: string,
  ) {
    this.store = new CheckpointStore<CleanseState>(options.out);
    this.files = workFiles(options.out);
    this.elapsedBefore = state.elapsedSeconds ?? 0;
  }

  /** Wall seconds of the run so far: earlier segments (up to their last commit) plus this one. */
  elapsed(): number {
    return this.elapsedBefore + (Date.now() - this.segmentStart) / 1000;
  }

  /** The reader options of the run's inputs. */
  readOptions(): ReadOptions {
    return { ...readOptions(this.options.source), tempDir: this.tempDir, signal: this.options.signal };
  }

  /** A path under DIR/checkpoint (model state a resume needs). */
  checkpoint(name: string): string {
    return this.store.path(name);
  }

  /** Writes the state atomically: the run's new last committed point; then stops if the run was aborted. */
  async commit(): Promise<void> {
    this.state.elapsedSeconds = Math.round(this.elapsed() * 100) / 100;
    await this.store.save(this.state);
    await this.options.onCommit?.(this.state);
    this.options.signal?.throwIfAborted();
  }

  /** Measures a pass: wall time and peak RSS (sampled), added to state.costs; `rows` may be known only after the pass (a function). */
  async measure<T>(pass: PassName, work: () => Promise<T>, rowsOf?: number | (() => number)): Promise<T> {
    this.options.signal?.throwIfAborted();
    const start = Date.now();
    let peak = process.memoryUsage().rss;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 100);
    try {
      return await work();
    } finally {
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage().rss);
      const prev = this.state.costs[pass];
      const rows = typeof rowsOf === 'function' ? rowsOf() : rowsOf;
      this.state.costs[pass] = {
        seconds: Math.round(((prev?.seconds ?? 0) + (Date.now() - start) / 1000) * 100) / 100,
        peakRssMB: Math.round(Math.max(prev?.peakRssMB ?? 0, peak / 2 ** 20)),
        ...(rows !== undefined ? { rows } : {}),
      };
    }
  }
}

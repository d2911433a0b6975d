import { join } from 'node:path';
import { CheckpointStore } from '../src/io/checkpoint.js';
import { RunDir } from '../src/io/run-dir.js';
import { freshRunDir } from '../src/io/fresh-run-dir.js';
import { countRows } from '../src/io/read.js';
import { resolveInputs } from '../src/io/inputs.js';
import { readOptions, resolveSource, type SourceOption } from '../src/io/source-settings.js';
import { initBackend, type BackendName } from '../src/models/backend.js';
import { UsageError } from '../src/errors.js';
import { silentLogger, type Logger } from '../src/log.js';
import type { ColumnsOption } from '../src/io/columns.js';
import type { OnnxProviderRequest } from '../src/models/onnx-session.js';
import type { TrainRuntimeRequest } from '../src/models/simclr-engine.js';
import { trainingEngine } from './training-engine.js';
import { pretrainEncoder, type PretrainProgress, type PretrainSettings } from './pretrain.js';

interface PretrainRunState {
  settings: Omit<PretrainSettings, 'totalRows'>;
  backend: string;
  progress: PretrainProgress | null;
  done: boolean;
}

/**
 * `gssd pretrain`: SimCLR pretraining into `out`, with its checkpoint in `out/checkpoint` and
 * the encoder in `out/encoder`; `resume` continues exactly where a killed run stopped, and
 * with a larger `epochs` it extends a run (finished or not) to that many epochs: the learning
 * rate is constant and every epoch's order is seeded by its number, so 5 epochs extended to 20
 * give the encoder a 20-epoch run gives.
 *
 * @example
 *   await pretrainCommandRun(settings, { out: 'enc', resume: false, backend: 'auto' }, log);
 */
export async function pretrainCommandRun(
  requested: Omit<PretrainSettings, 'totalRows' | 'trainRuntime' | 'threads'>,
  run: { out: string; resume: boolean; backend: BackendName; trainRuntime?: TrainRuntimeRequest; threads?: number; signal?: AbortSignal },
  log: Logger,
): Promise<void> {
  run.signal?.throwIfAborted();
  const backend = await initBackend(run.backend);
  log.info('backend', { backend });
  const dir = await RunDir.open(run.out, 'pretrain', log);
  try {
    await pretrainLocked(requested, run, backend, dir, log);
  } finally {
    await dir.close();
  }
}

/** What a pretrain run directory holds (the encoder, the checkpoints): see `freshRunDir`. */
const PRETRAIN_RUN_ENTRIES: ReadonlySet<string> = new Set(['checkpoint', 'encoder']);

/** `pretrainCommandRun` once this process holds the lock of the run directory. */
async function pretrainLocked(
  requested: Omit<PretrainSettings, 'totalRows' | 'trainRuntime' | 'threads'>,
  run: { out: string; resume: boolean; trainRuntime?: TrainRuntimeRequest; threads?: number; signal?: AbortSignal },
  backend: string,
  dir: RunDir,
  log: Logger,
): Promise<void> {
  const store = new CheckpointStore<PretrainRunState>(run.out);
  let state = run.resume ? await store.load() : null;
  const settings = { ...requested, ...trainingEngine(state?.settings, run, run.out, log) };
  if (state) await continueWith(state, settings, run.out, store, log);
  if (!state) {
    await freshRunDir(run.out, { command: 'pretrain', entries: PRETRAIN_RUN_ENTRIES, resume: run.resume });
    state = { settings, backend, progress: null, done: false };
    await store.save(state);
  }
  await dir.adopt();
  if (state.done) {
    log.info('pretrain already done', { encoder: join(run.out, 'encoder') });
    return;
  }
  const s = state;
  await pretrainEncoder(
    { ...settings, totalRows: await countRows(settings.inputs, { ...readOptions(settings.source), tempDir: dir.tempDir }), tempDir: dir.tempDir },
    {
      encoderDir: join(run.out, 'encoder'),
      checkpointDir: (epoch, step) => store.path(`simclr-e${epoch}-s${step}`),
      resumeFrom: s.progress,
      signal: run.signal,
      commit: async (p) => {
        s.progress = p;
        await store.save(s);
      },
    },
    log,
  );
  s.done = true;
  await store.save(s);
  log.info('encoder saved', { encoder: join(run.out, 'encoder') });
}

/**
 * Checks that a resumed run has the settings it started with, except `epochs`, which may grow
 * (or shrink down to the epochs already done); saves the new epoch count.
 */
async function continueWith(
  state: PretrainRunState,
  settings: Omit<PretrainSettings, 'totalRows'>,
  out: string,
  store: CheckpointStore<PretrainRunState>,
  log: Logger,
): Promise<void> {
  const keys = Object.keys(settings) as (keyof typeof settings)[];
  // settings added after a run was started (the training engine's) count as unchanged there
  const added = new Set(['trainRuntime', 'threads', 'device']);
  const differing = keys.filter((k) => k !== 'epochs' && !(added.has(k) && state.settings[k] === undefined) && JSON.stringify(state.settings[k]) !== JSON.stringify(settings[k]));
  if (differing.length > 0) {
    throw new UsageError(`${out}: the run there was started with other ${differing.map(optionName).join(', ')}; resume with the same options (only --epochs may change)`);
  }
  if (settings.epochs === state.settings.epochs) return;
  const done = state.progress?.epochsDone ?? 0;
  if (settings.epochs < done) throw new UsageError(`${out}: ${done} epochs are done there; --epochs must be at least ${done}`);
  log.info('pretrain epochs changed', { from: state.settings.epochs, to: settings.epochs, done });
  state.settings = settings;
  state.done = false;
  await store.save(state);
}

/** The option behind a pretrain setting, for messages. */
function optionName(key: string): string {
  if (key === 'inputs') return 'inputs';
  if (key === 'source') return 'input options';
  return `--${key.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`)}`;
}

/** The training settings of `pretrain` (see `PretrainSettings`). */
export interface PretrainTunables {
  width: number;
  epochs: number;
  batch: number;
  lr: number;
  seed: number;
  checkpointSteps: number;
  shuffleBuffer: number;
  simclrShards: number;
}

/** The defaults of `pretrain` (and of `gssd pretrain`). */
export const PRETRAIN_DEFAULTS: Readonly<PretrainTunables> = Object.freeze({
  width: 16,
  epochs: 10,
  batch: 256,
  lr: 3e-4,
  seed: 0,
  checkpointSteps: 50,
  shuffleBuffer: 4096,
  simclrShards: 2,
});

/** Options of `pretrain`: `inputs` and `out`, the rest optional (`PRETRAIN_DEFAULTS`, `SOURCE_DEFAULTS`). */
export interface PretrainOptions extends Partial<PretrainTunables> {
  inputs: string[];
  out: string;
  source?: SourceOption;
  /** The same option `readBatches`, `decode` and `cleanse` take. */
  columns?: ColumnsOption;
  /** Continue the run in `out` (or extend it to more `epochs`). Default false. */
  resume?: boolean;
  backend?: BackendName;
  trainRuntime?: TrainRuntimeRequest;
  device?: OnnxProviderRequest;
  threads?: number;
  /** Stops before the next step; the last checkpoint stays, and `resume: true` continues (same encoder). */
  signal?: AbortSignal;
}

/**
 * SimCLR pretraining into `out` (the encoder in `out/encoder`, for `cleanse({ encoder })`),
 * as `gssd pretrain` runs it: checkpointed and resumable.
 *
 * @example
 *   const { encoder } = await pretrain({ inputs: ['train.parquet'], out: 'enc', epochs: 20 });
 */
export async function pretrain(o: PretrainOptions, log: Logger = silentLogger): Promise<{ encoder: string }> {
  const given = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as PretrainOptions;
  const p = { ...PRETRAIN_DEFAULTS, ...given };
  await pretrainCommandRun(
    {
      inputs: await resolveInputs(p.inputs),
      source: resolveSource(p.source, p.columns),
      width: p.width,
      epochs: p.epochs,
      batch: p.batch,
      lr: p.lr,
      seed: p.seed,
      checkpointSteps: p.checkpointSteps,
      shuffleBuffer: p.shuffleBuffer,
      simclrShards: p.simclrShards,
      device: p.device ?? 'auto',
    },
    { out: p.out, resume: p.resume ?? false, backend: p.backend ?? 'auto', trainRuntime: p.trainRuntime, threads: p.threads, signal: p.signal },
    log,
  );
  return { encoder: join(p.out, 'encoder') };
}

import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointStore } from '../src/io/checkpoint.js';
import { countRows } from '../src/io/read.js';
import { initBackend, type BackendName } from '../src/models/backend.js';
import { UsageError } from '../src/errors.js';
import type { Logger } from '../src/log.js';
import { pretrainEncoder, type PretrainProgress, type PretrainSettings } from './pretrain.js';

interface PretrainRunState {
  settings: Omit<PretrainSettings, 'totalRows'>;
  backend: string;
  progress: PretrainProgress | null;
  done: boolean;
}

/**
 * `gssd pretrain`: SimCLR pretraining into `out`, with its checkpoint in `out/checkpoint` and
 * the encoder in `out/encoder`; `resume` continues exactly where a killed run stopped.
 *
 * @example
 *   await pretrainCommandRun(settings, { out: 'enc', resume: false, backend: 'auto' }, log);
 */
export async function pretrainCommandRun(
  settings: Omit<PretrainSettings, 'totalRows'>,
  run: { out: string; resume: boolean; backend: BackendName },
  log: Logger,
): Promise<void> {
  const backend = await initBackend(run.backend);
  log.info('backend', { backend });
  const store = new CheckpointStore<PretrainRunState>(run.out);
  let state = run.resume ? await store.load() : null;
  if (state && JSON.stringify(state.settings) !== JSON.stringify(settings)) {
    throw new UsageError(`${run.out}: the run there was started with other options; resume with the same options`);
  }
  if (!state) {
    await mkdir(run.out, { recursive: true });
    if ((await readdir(run.out)).length > 0) throw new UsageError(`${run.out} is not empty; use --resume to continue the run there, or another --out`);
    state = { settings, backend, progress: null, done: false };
    await store.save(state);
  }
  if (state.done) {
    log.info('pretrain already done', { encoder: join(run.out, 'encoder') });
    return;
  }
  const s = state;
  await pretrainEncoder(
    { ...settings, totalRows: await countRows(settings.inputs, { columns: settings.source.columns }) },
    {
      encoderDir: join(run.out, 'encoder'),
      checkpointDir: (epoch, step) => store.path(`simclr-e${epoch}-s${step}`),
      resumeFrom: s.progress,
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

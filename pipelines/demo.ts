import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readBatches } from '../src/io/read.js';
import { PartSink } from '../src/io/part-sink.js';
import { freshRunDir } from '../src/io/fresh-run-dir.js';
import { UsageError } from '../src/errors.js';
import { silentLogger, type Logger } from '../src/log.js';
import type { SourceSettings } from '../src/io/source-settings.js';
import type { BackendName } from '../src/models/backend.js';
import type { TrainRuntimeRequest } from '../src/models/simclr-engine.js';
import { writeSyntheticDataset } from './synthetic-data.js';
import { DEMO_BUDGET, DEMO_DETECTION, DEMO_TRAIN_RUNTIME } from './demo-defaults.js';
import { poison, type PoisonSummary } from './poison.js';
import { cleanse, CLEANSE_DEFAULTS } from './cleanse.js';
import { evaluate, type Evaluation } from './evaluate.js';
import type { CleanseReport } from './cleanse/report.js';
import type { TargetDetectionMode } from '../src/detect/options.js';
import type { CutMode } from '../src/detect/split-thresholds.js';

/** Options of `gssd demo`. */
export interface DemoOptions {
  out: string;
  rows: number;
  data: 'auto' | 'cifar10' | 'synthetic';
  attack: string;
  rate?: number;
  target: number;
  /** Encoder width and SimCLR epochs; default: the budget measured to work for the data source (DEMO_BUDGET). */
  width?: number;
  pretrainEpochs?: number;
  flowEpochs: number;
  /** Target detection and cut of the cleanse; default DEMO_DETECTION. */
  targetDetection?: TargetDetectionMode;
  cut?: CutMode;
  seed: number;
  backend: BackendName;
  /** What trains the demo's encoder; default DEMO_TRAIN_RUNTIME. */
  trainRuntime?: TrainRuntimeRequest;
}

export { DEMO_DEFAULTS, DEMO_DETECTION, DEMO_BUDGET, DEMO_TRAIN_RUNTIME } from './demo-defaults.js';

/** Where the shared CIFAR-10 shards are, if anywhere: $GSSD_CIFAR10_DIR, ./../shared, or beside the package. */
export function findCifar10(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    process.env.GSSD_CIFAR10_DIR,
    resolve('../shared/data/cifar10'),
    resolve('shared/data/cifar10'),
    resolve(here, '../../../shared/data/cifar10'),
    resolve(here, '../../shared/data/cifar10'),
  ];
  for (const c of candidates) if (c && existsSync(join(c, 'train-00000-of-00005.parquet'))) return c;
  return null;
}

/**
 * The embedded default job: takes a few thousand images (CIFAR-10 from ../shared/data when it
 * is there, else seeded procedural images), poisons a known share with a backdoor (BadNets by
 * default, 10% of the non-target rows, target 0), cleanses them with GSSD, and, since it knows
 * the truth, scores the result: flagged class, removal recall, clean loss.
 *
 * @example
 *   const { evaluation } = await demo({ ...DEMO_DEFAULTS, out: 'demo' }, log);
 */
export async function demo(o: DemoOptions, log: Logger = silentLogger): Promise<{ dataset: string; poisoned: PoisonSummary; report: CleanseReport; evaluation: Evaluation }> {
  await prepareDemoDir(o.out);
  const source: SourceSettings = { batchRows: 1024, columns: { id: 'id', label: 'label', image: 'image' }, imageSize: 32, retries: 5, concurrency: 2, timeoutMs: 30_000 };
  const cifar = o.data === 'synthetic' ? null : findCifar10();
  if (o.data === 'cifar10' && !cifar) throw new UsageError('CIFAR-10 shards not found (looked in $GSSD_CIFAR10_DIR and ../shared/data/cifar10); use --data synthetic');
  const sourceDir = join(o.out, 'source');
  let dataset: string;
  if (cifar) {
    dataset = `CIFAR-10 train, first ${o.rows} rows (${cifar})`;
    await copyRows(join(cifar, 'train-00000-of-00005.parquet'), sourceDir, o.rows, source);
  } else {
    dataset = `procedural images, ${o.rows} rows (10 classes, seed ${o.seed})`;
    await writeSyntheticDataset(sourceDir, { rows: o.rows, seed: o.seed });
  }
  const budget = DEMO_BUDGET[cifar ? 'cifar10' : 'synthetic'];
  const width = o.width ?? budget.width;
  const pretrainEpochs = o.pretrainEpochs ?? budget.pretrainEpochs;
  log.info('demo data', { dataset, width, pretrainEpochs });
  const poisoned = await poison(
    { inputs: [join(sourceDir, 'part-00000.parquet')], out: join(o.out, 'poisoned'), source, attack: o.attack, rate: o.rate, target: o.target, seed: o.seed, split: 'train', force: true },
    log,
  );
  log.info('demo poisoned', { attack: o.attack, poisoned: poisoned.poisoned, covers: poisoned.covers, target: o.target });
  const run = join(o.out, 'run');
  const report = await cleanse(
    {
      ...CLEANSE_DEFAULTS,
      inputs: [join(poisoned.out, 'part-00000.parquet')],
      out: run,
      source,
      width,
      pretrainEpochs,
      pretrainBatch: 128,
      flowEpochs: o.flowEpochs,
      targetDetection: o.targetDetection ?? DEMO_DETECTION.targetDetection,
      cut: o.cut ?? DEMO_DETECTION.cut,
      seed: o.seed,
      backend: o.backend,
      trainRuntime: o.trainRuntime ?? DEMO_TRAIN_RUNTIME,
      resume: false,
      force: true,
      keepWork: false,
    },
    log,
  );
  const evaluation = await evaluate(run, poisoned.truth!, source.columns);
  return { dataset, poisoned, report, evaluation };
}

/** The file that marks a directory the demo made: the only kind it deletes. */
const DEMO_MARKER = '.gssd-demo';

/** The demo only ever deletes a directory it made itself (it leaves a marker file). */
async function prepareDemoDir(out: string): Promise<void> {
  await freshRunDir(out, { command: 'demo', entries: new Set([DEMO_MARKER, 'source', 'poisoned', 'run']), marker: DEMO_MARKER, force: true });
  await writeFile(join(out, DEMO_MARKER), 'made by gssd demo; deleted and rewritten by the next gssd demo\n');
}

async function copyRows(input: string, dir: string, rows: number, source: SourceSettings): Promise<void> {
  const sink = await PartSink.open(dir);
  let left = rows;
  for await (const batch of readBatches([input], { columns: source.columns })) {
    if (left <= 0) break;
    await sink.write(batch.numRows <= left ? batch : batch.slice(0, left));
    left -= batch.numRows;
  }
  await sink.close();
}

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parquetMetadataAsync } from 'hyparquet';
import type { RecordBatch } from 'apache-arrow';
import { readBatches, type ReadOptions } from '../src/io/read.js';
import { fileBuffer, type InputBuffer } from '../src/io/async-buffer.js';
import { httpBuffer } from '../src/io/http-buffer.js';
import { isUrl } from '../src/io/inputs.js';
import { s3Buffer } from '../src/io/s3-buffer.js';
import { isS3Uri } from '../src/io/s3-uri.js';
import { MANIFEST } from '../src/models/save.js';
import { loadClassifier, type Classifier } from '../src/models/classifier.js';
import { initBackend, type BackendName } from '../src/models/backend.js';
import { decodeBatch, PIXELS_COLUMN } from '../src/stages/decode.js';
import { InputError, UsageError, errorMessage } from '../src/errors.js';
import { Progress } from '../src/progress.js';
import { silentLogger, type Logger } from '../src/log.js';
import { DEFAULT_COLUMNS } from '../src/io/columns.js';
import type { SourceSettings } from '../src/io/source-settings.js';

/** Options of `gssd test`. */
export interface TestModelOptions {
  /** A model directory (`out/model` of `gssd train`) or the train run directory holding it. */
  model: string;
  /** The clean test set, for ACC. */
  clean: string[];
  /** The triggered test set (`gssd poison --split test`), for ASR. */
  triggered?: string[];
  /** Target class of the attack. Default: from the triggered data's `gssd_poison` Parquet metadata. */
  target?: number;
  /** Input options (columns, retries, ...); images are decoded at the model's size. */
  source?: Partial<SourceSettings>;
  /** Images per inference batch. Default 256. */
  batch?: number;
  /** Default `auto`. */
  backend?: BackendName;
}

/** ACC and ASR of a model. */
export interface TestResult {
  model: string;
  /** Share of the clean rows predicted as their label. */
  acc: number | null;
  correct: number;
  cleanRows: number;
  /** ACC per label of the clean rows, by label ascending (e.g. how many of the target class a defence cost). */
  perClass: { label: number; rows: number; correct: number; acc: number }[];
  /** Share of the triggered non-target rows predicted as the target class; null without triggered inputs. */
  asr: number | null;
  hits: number;
  triggeredRows: number;
  /** Triggered rows labelled with the target class, left out of ASR. */
  targetRowsExcluded: number;
  target: number | null;
  /** Rows whose image could not be decoded (left out of both). */
  undecodable: number;
}

/**
 * Tests a trained classifier: ACC on the clean test inputs, and ASR on the triggered ones =
 * share of the triggered rows whose label is not the target that the model predicts as the
 * target class. Streams both sets; eval mode, batches of `batch` images.
 *
 * @example
 *   const r = await testModel({ model: 'trained/model', clean: ['cifar/test'], triggered: ['badnets-test/data'] });
 *   console.log(r.acc, r.asr);
 */
export async function testModel(o: TestModelOptions, log: Logger = silentLogger): Promise<TestResult> {
  const modelDir = existsSync(join(o.model, MANIFEST)) ? o.model : join(o.model, 'model');
  if (!existsSync(join(modelDir, MANIFEST))) throw new InputError(`${o.model}: no saved model (no ${MANIFEST} there or in ${join(o.model, 'model')})`);
  const backend = await initBackend(o.backend ?? 'auto');
  log.info('backend', { backend });
  const triggered = o.triggered ?? [];
  const target = triggered.length ? (o.target ?? (await poisonTarget(triggered[0], o.source))) : (o.target ?? null);
  const clf = await loadClassifier(modelDir).catch((err: unknown) => {
    throw new InputError(errorMessage(err), { cause: err });
  });
  try {
    let correct = 0;
    let cleanRows = 0;
    const byLabel = new Map<number, { rows: number; correct: number }>();
    let undecodable = await predictAll(clf, o.clean, o, log, 'test clean', (pred, label) => {
      cleanRows++;
      const c = byLabel.get(label) ?? { rows: 0, correct: 0 };
      c.rows++;
      if (pred === label) {
        correct++;
        c.correct++;
      }
      byLabel.set(label, c);
    });
    const perClass = [...byLabel].sort((a, b) => a[0] - b[0]).map(([label, c]) => ({ label, ...c, acc: c.correct / c.rows }));
    let hits = 0;
    let triggeredRows = 0;
    let targetRowsExcluded = 0;
    if (triggered.length) {
      undecodable += await predictAll(clf, triggered, o, log, 'test triggered', (pred, label) => {
        if (label === target) {
          targetRowsExcluded++;
          return;
        }
        triggeredRows++;
        if (pred === target) hits++;
      });
    }
    return {
      model: modelDir,
      acc: cleanRows ? correct / cleanRows : null,
      correct,
      cleanRows,
      perClass,
      asr: triggeredRows ? hits / triggeredRows : null,
      hits,
      triggeredRows,
      targetRowsExcluded,
      target,
      undecodable,
    };
  } finally {
    clf.dispose();
  }
}

/** Calls `each(prediction, label)` for every decodable row of the inputs, streamed in batches; returns the undecodable count. */
async function predictAll(
  clf: Classifier,
  inputs: string[],
  o: TestModelOptions,
  log: Logger,
  pass: string,
  each: (pred: number, label: number) => void,
): Promise<number> {
  const columns = o.source?.columns ?? DEFAULT_COLUMNS;
  const size = clf.options.imageSize;
  const per = size * size * 3;
  let undecodable = 0;
  const bar = new Progress(log, pass);
  const batch = o.batch ?? 256;
  for await (const b of readBatches(inputs, readOptions(o, batch))) {
    const decoded: RecordBatch = decodeBatch(b, columns, size, o.source?.maxImagePixels);
    const px = decoded.getChild(PIXELS_COLUMN)!;
    const labels = b.getChild(columns.label)!;
    const packed = new Uint8Array(b.numRows * per);
    const kept: number[] = [];
    for (let i = 0; i < b.numRows; i++) {
      const v = px.get(i) as Uint8Array | null;
      if (!v) {
        undecodable++;
        continue;
      }
      packed.set(v, kept.length * per);
      kept.push(Number(labels.get(i)));
    }
    const pred = clf.predict(packed, kept.length, batch);
    kept.forEach((label, k) => each(pred[k], label));
    bar.add(b.numRows);
  }
  bar.done();
  return undecodable;
}

function readOptions(o: TestModelOptions, batch: number): ReadOptions {
  const s = o.source ?? {};
  return { batchRows: s.batchRows ?? batch, columns: s.columns, numClasses: s.numClasses, retries: s.retries, concurrency: s.concurrency, timeoutMs: s.timeoutMs };
}

/**
 * The target class recorded by `gssd poison` in the Parquet key-value metadata
 * (`gssd_poison`, JSON with `target`) of one input; a UsageError asking for `--target` when absent.
 *
 * @example
 *   const target = await poisonTarget('badnets-test/data/part-00000.parquet');   // 0
 */
export async function poisonTarget(input: string, source: Partial<SourceSettings> = {}): Promise<number> {
  let buffer: InputBuffer | undefined;
  let meta: string | undefined;
  try {
    buffer = isUrl(input)
      ? await httpBuffer(input, { retries: source.retries ?? 5, retryDelayMs: 200, timeoutMs: source.timeoutMs ?? 30_000 })
      : isS3Uri(input)
        ? await s3Buffer(input, { retries: source.retries ?? 5, retryDelayMs: 200, timeoutMs: source.timeoutMs ?? 30_000 })
        : await fileBuffer(input);
    const metadata = await parquetMetadataAsync(buffer);
    meta = metadata.key_value_metadata?.find((kv) => kv.key === 'gssd_poison')?.value;
  } catch (err) {
    throw new InputError(`${input}: cannot read its Parquet metadata (${errorMessage(err)}); give --target`, { cause: err });
  } finally {
    await buffer?.close().catch(() => {});
  }
  if (!meta) throw new UsageError(`${input} has no gssd_poison metadata (not written by gssd poison): give --target`);
  let target: unknown;
  try {
    target = (JSON.parse(meta) as { target?: unknown }).target;
  } catch {
    target = undefined;
  }
  if (typeof target !== 'number' || !Number.isInteger(target) || target < 0) throw new UsageError(`${input}: its gssd_poison metadata names no target class: give --target`);
  return target;
}

/**
 * The result as one line of text.
 *
 * @example
 *   process.stdout.write(formatTestResult(r));
 */
export function formatTestResult(r: TestResult): string {
  const p = (x: number | null) => (x === null ? 'n/a' : `${(100 * x).toFixed(2)}%`);
  const asr = r.asr === null && r.triggeredRows === 0 && r.target === null ? '' : `; ASR ${p(r.asr)} (${r.hits}/${r.triggeredRows} triggered rows predicted as target ${r.target})`;
  return `ACC ${p(r.acc)} (${r.correct}/${r.cleanRows})${asr}${r.undecodable ? `; ${r.undecodable} undecodable rows left out` : ''}\n`;
}

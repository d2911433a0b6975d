import { join } from 'node:path';
import { Bool, Field, Int32, Int64, type RecordBatch } from 'apache-arrow';
import { readBatches } from '../src/io/read.js';
import { PartSink } from '../src/io/part-sink.js';
import { freshRunDir } from '../src/io/fresh-run-dir.js';
import { buildData, makeBatch } from '../src/io/arrow-data.js';
import { writeFileAtomic } from '../src/io/atomic-file.js';
import { encodePng } from '../src/io/png.js';
import { imageColumnOf } from '../src/io/columns.js';
import { decodeBatch, PIXELS_COLUMN } from '../src/stages/decode.js';
import { makeAttack, pgdPerturb, poisonPlan, PoisonSelector } from '../src/attacks/index.js';
import { existsSync } from 'node:fs';
import { initBackend } from '../src/models/backend.js';
import { loadClassifier, type Classifier } from '../src/models/classifier.js';
import { MANIFEST, readManifest } from '../src/models/save.js';
import { InputError, UsageError } from '../src/errors.js';
import { Rng } from '../src/rng.js';
import { Progress } from '../src/progress.js';
import { VERSION } from '../src/version.js';
import { silentLogger, type Logger } from '../src/log.js';
import { readOptions, type SourceSettings } from '../src/io/source-settings.js';

/** Options of `gssd poison`. */
export interface PoisonOptions {
  inputs: string[];
  out: string;
  source: SourceSettings;
  attack: string;
  /** Share of the non-target rows to poison (default: the attack's own, 10% or 1%). */
  rate?: number;
  target: number;
  seed: number;
  split: 'train' | 'test';
  force: boolean;
  /** `--attack lc`, train split: the `gssd train` model (run or model directory) the PGD perturbation is computed against. */
  lcModel?: string;
}

/** What `gssd poison` did. */
export interface PoisonSummary {
  attack: string;
  split: 'train' | 'test';
  target: number;
  rate: number;
  rowsIn: number;
  rowsOut: number;
  poisoned: number;
  covers: number;
  out: string;
  truth: string | null;
}

/**
 * Writes a poisoned copy of the inputs (docs/method.md, attacks): every row re-encoded as PNG the
 * same way, so the file format does not tell which rows were touched. Train split: exactly
 * floor(rate x non-target rows) rows drawn from the non-target classes get the trigger and the
 * target label (plus as many cover rows, trigger and own label, for Adap-*); the ground truth
 * goes to `out/truth.parquet` (id, is_poisoned, is_cover, source_label), which the cleanser
 * never reads. Test split: the triggered test set for ASR, target-class rows removed, labels
 * kept. The trigger pattern is saved as `out/trigger.png`.
 *
 * @example
 *   await poison({ inputs: ['train.parquet'], out: 'poisoned', attack: 'badnets', target: 0, seed: 1, split: 'train', ... });
 */
export async function poison(o: PoisonOptions, log: Logger = silentLogger): Promise<PoisonSummary> {
  const attack = makeAttack(o.attack, o.seed);
  const rate = o.rate ?? attack.rate;
  if (!(rate > 0 && rate < 1)) throw new UsageError(`Expected \`--rate\` to be a number in (0, 1), got \`${rate}\``);
  // Label-Consistent: target-class rows, adversarially perturbed against a trained classifier, then triggered, labels kept
  const lc = attack.name === 'lc' && o.split === 'train';
  if (lc && !o.lcModel) throw new UsageError('--attack lc needs --lc-model DIR: a gssd train model (trained on clean rows) that the adversarial perturbation is computed against');
  if (!lc && o.lcModel) throw new UsageError('--lc-model is for --attack lc on the train split');
  const clf = lc ? await openLcModel(o.lcModel!, o.source.imageSize) : null;
  await freshRunDir(o.out, { command: 'poison', entries: new Set(['data', 'truth', 'trigger.png']), force: o.force });
  const size = o.source.imageSize;
  const cols = o.source.columns;
  const readOpts = readOptions(o.source);
  // the candidates: the non-target rows (dirty-label attacks), or the target rows (lc)
  const candidates = o.split === 'train' ? await countNonTarget(o.inputs, readOpts, cols.label, o.target, lc) : 0;
  // lc reuses the selector with the target rows as its candidates: they are shown to it as class 1, the rest as class 0 (its "target")
  const selector = o.split === 'train' ? new PoisonSelector(poisonPlan(candidates, rate, attack.coverRate ?? 0, lc ? 0 : o.target), new Rng(`${o.seed}:select`)) : null;
  const metadata = { gssd_version: VERSION, gssd_poison: JSON.stringify({ attack: o.attack, rate, target: o.target, seed: o.seed, split: o.split }) };
  const data = await PartSink.open(join(o.out, 'data'), { metadata });
  const truth = selector ? await PartSink.open(join(o.out, 'truth'), { metadata, partRows: Number.MAX_SAFE_INTEGER }) : null;
  const progress = new Progress(log, 'poison');
  let rowsIn = 0;
  let rowsOut = 0;
  let covers = 0;
  let poisoned = 0;
  for await (const batch of readBatches(o.inputs, readOpts)) {
    const decoded = decodeBatch(batch, cols, size, o.source.maxImagePixels);
    const pixels = decoded.getChild(PIXELS_COLUMN)!;
    const labels = batch.getChild(cols.label)!;
    const ids = batch.getChild(cols.id)!;
    const keep: number[] = [];
    const images: Uint8Array[] = [];
    const pgdRows: number[] = [];
    const newLabels: number[] = [];
    const truthRows = { id: [] as bigint[], poisoned: [] as boolean[], cover: [] as boolean[], source: [] as number[] };
    for (let i = 0; i < batch.numRows; i++, rowsIn++) {
      const px = pixels.get(i) as Uint8Array | null;
      const label = Number(labels.get(i));
      if (!px) throw new InputError(`${o.inputs.length === 1 ? o.inputs[0] : 'input'}: row ${rowsIn}: the image cannot be decoded; gssd poison needs every image`);
      let out = px;
      let newLabel = label;
      if (selector) {
        const role = selector.decide(lc ? Number(label === o.target) : label);
        if (role !== 'clean' && lc) pgdRows.push(images.length);
        else if (role !== 'clean') out = attack.apply(px, size, new Rng(`${o.seed}:row:${rowsIn}`));
        if (role === 'poison' && attack.dirtyLabel) newLabel = o.target;
        if (role === 'poison') poisoned++;
        if (role === 'cover') covers++;
        truthRows.id.push(BigInt(ids.get(i)));
        truthRows.poisoned.push(role === 'poison');
        truthRows.cover.push(role === 'cover');
        truthRows.source.push(label);
      } else {
        if (label === o.target) continue;
        out = attack.applyTest(px, size);
        poisoned++;
      }
      keep.push(i);
      images.push(out);
      newLabels.push(newLabel);
    }
    if (clf && pgdRows.length) {
      // the batch's poison rows together: PGD on the classifier for their own label, then the trigger
      const per = size * size * 3;
      const stacked = new Uint8Array(pgdRows.length * per);
      pgdRows.forEach((j, r) => stacked.set(images[j], r * per));
      const hard = pgdPerturb(clf, stacked, pgdRows.length, size, pgdRows.map((j) => newLabels[j]));
      pgdRows.forEach((j, r) => (images[j] = attack.apply(hard.subarray(r * per, (r + 1) * per), size, new Rng(0))));
    }
    for (let j = 0; j < images.length; j++) images[j] = encodePng(images[j], size);
    await data.write(replaceImageAndLabel(batch, keep, images, newLabels, cols));
    rowsOut += keep.length;
    if (truth) {
      const n = truthRows.id.length;
      await truth.write(
        makeBatch(
          [new Field('id', new Int64(), false), new Field('is_poisoned', new Bool(), false), new Field('is_cover', new Bool(), false), new Field('source_label', new Int32(), false)],
          [buildData(new Int64(), truthRows.id, 0, n), buildData(new Bool(), truthRows.poisoned, 0, n), buildData(new Bool(), truthRows.cover, 0, n), buildData(new Int32(), truthRows.source, 0, n)],
        ),
      );
    }
    progress.add(batch.numRows);
  }
  selector?.finish();
  clf?.dispose();
  await data.close();
  await truth?.close();
  const pattern = attack.triggerPattern(size);
  await writeFileAtomic(join(o.out, 'trigger.png'), encodePng(pattern.pixels, pattern.size));
  progress.done({ poisoned, covers });
  return { attack: o.attack, split: o.split, target: o.target, rate, rowsIn, rowsOut, poisoned, covers, out: join(o.out, 'data'), truth: truth ? join(o.out, 'truth') : null };
}


/** Rows whose label is not the target (or, with `targetRows`, rows whose label is). */
async function countNonTarget(inputs: string[], opts: Parameters<typeof readBatches>[1], labelCol: string, target: number, targetRows = false): Promise<number> {
  let n = 0;
  for await (const batch of readBatches(inputs, opts)) {
    const labels = batch.getChild(labelCol)!;
    for (let i = 0; i < batch.numRows; i++) if ((Number(labels.get(i)) === target) === targetRows) n++;
  }
  return n;
}

/** The classifier of a `gssd train` run (its run or model directory) for the lc perturbation. */
async function openLcModel(dir: string, imageSize: number): Promise<Classifier> {
  await initBackend('auto');
  const modelDir = existsSync(join(dir, MANIFEST)) ? dir : join(dir, 'model');
  if (!existsSync(join(modelDir, MANIFEST))) throw new InputError(`${dir}: not a gssd train model (no ${MANIFEST} there or in model/)`);
  const { kind } = await readManifest(modelDir);
  if (kind !== 'classifier') throw new InputError(`${dir}: holds a gssd ${kind}, not a gssd train model`);
  const clf = await loadClassifier(modelDir);
  if (clf.options.imageSize !== imageSize) {
    clf.dispose();
    throw new UsageError(`the --lc-model ${dir} takes ${clf.options.imageSize}-px images; pass --image-size ${clf.options.imageSize}`);
  }
  return clf;
}

/** The batch's rows `keep`, with new image bytes (binary, or the `bytes` of a struct) and labels. */
function replaceImageAndLabel(batch: RecordBatch, keep: number[], images: Uint8Array[], labels: number[], cols: SourceSettings['columns']): RecordBatch {
  const imageCol = imageColumnOf(batch.schema.fields, cols.image) ?? cols.image;
  const fields = batch.schema.fields;
  const children = fields.map((f, c) => {
    const vector = batch.getChildAt(c)!;
    const values = keep.map((i, k) => {
      if (f.name === cols.label) return labels[k];
      if (f.name === imageCol) {
        const v = vector.get(i);
        return v && typeof v === 'object' && !(v instanceof Uint8Array) ? { ...(v as { toJSON(): object }).toJSON(), bytes: images[k] } : images[k];
      }
      return vector.get(i);
    });
    return buildData(f.type, values, 0, keep.length);
  });
  return makeBatch(fields, children, batch.schema.metadata);
}


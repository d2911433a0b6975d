/**
 * Saving and loading models in one directory: `manifest.json` (format, kind, config, scalar
 * state, the name/offset/length/shape of every array, and an opaque caller-provided `extra`
 * JSON such as standardisation statistics) and `tensors.bin` (the arrays, float32
 * little-endian, back to back). Both are written to a temporary name and renamed, the
 * manifest last, so a directory with a manifest is always complete. Loading gives
 * bit-identical weights, optimiser state and so outputs.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { InputError, errorMessage } from '../errors.js';
import { writeFileAtomic } from '../atomic-file.js';
import type { FlowState } from './flow.js';
import { FlowBank, type FlowBankOptions, type FlowBankState } from './flow-bank.js';
import { ResNet } from './resnet.js';
import { convBns, resnetInitialVariables, resnetLayout, type ResNetOptions } from './resnet-layout.js';
import { SimclrTrainer, type SimclrOptions } from './simclr.js';

export const MANIFEST = 'manifest.json';
export const TENSORS = 'tensors.bin';
const FORMAT = 'gssd-model';
const VERSION = 1;

export type ModelKind = 'flow-bank' | 'flow' | 'resnet' | 'simclr' | 'classifier';

interface ArrayEntry {
  name: string;
  offset: number;
  length: number;
  shape?: number[];
}

/** The parsed manifest of a saved model. */
export interface Manifest {
  format: typeof FORMAT;
  version: number;
  kind: ModelKind;
  config: unknown;
  state: unknown;
  arrays: ArrayEntry[];
  extra: unknown;
}

/** One named array of a saved model. */
export interface NamedArray {
  name: string;
  values: Float32Array;
  shape?: number[];
}

/**
 * Writes a model directory: the arrays into tensors.bin, then the manifest, each atomically.
 *
 * @example
 *   await writeModel('out/model', 'classifier', config, null, [{ name: 'w', values, shape }], null);
 */
export async function writeModel(dir: string, kind: ModelKind, config: unknown, state: unknown, arrays: NamedArray[], extra: unknown): Promise<void> {
  const total = arrays.reduce((s, a) => s + a.values.length, 0);
  const all = new Float32Array(total);
  const entries: ArrayEntry[] = [];
  let offset = 0;
  for (const a of arrays) {
    all.set(a.values, offset);
    entries.push({ name: a.name, offset, length: a.values.length, ...(a.shape ? { shape: a.shape } : {}) });
    offset += a.values.length;
  }
  const bytes = new Uint8Array(all.buffer, all.byteOffset, all.byteLength);
  if (!littleEndian()) swap32(bytes);
  await writeFileAtomic(join(dir, TENSORS), bytes);
  const manifest: Manifest = { format: FORMAT, version: VERSION, kind, config, state, arrays: entries, extra: extra ?? null };
  await writeFileAtomic(join(dir, MANIFEST), JSON.stringify(manifest));
}

/**
 * The manifest of a saved model (to read `extra` or `config` without loading weights).
 *
 * @example
 *   const { extra } = await readManifest('out/flows');
 */
export async function readManifest(dir: string, kind?: ModelKind): Promise<Manifest> {
  const path = join(dir, MANIFEST);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? `${MANIFEST} missing` : code === 'ENOTDIR' ? 'not a directory' : errorMessage(err);
    throw new InputError(`${dir}: no saved model (${why})`, { cause: err });
  }
  let m: Manifest;
  try {
    m = JSON.parse(text) as Manifest;
  } catch (err) {
    throw new InputError(`${path}: not valid JSON (${errorMessage(err)})`, { cause: err });
  }
  if (m === null || typeof m !== 'object' || m.format !== FORMAT || m.version !== VERSION) throw new InputError(`${path}: not a ${FORMAT} v${VERSION} manifest`);
  if (kind && m.kind !== kind) throw new InputError(`${dir}: holds a ${m.kind}, expected a ${kind}`);
  if (!Array.isArray(m.arrays) || !m.arrays.every(validEntry)) throw new InputError(`${path}: its "arrays" list is not a list of {name, offset, length}`);
  return m;
}

function validEntry(e: unknown): boolean {
  const a = e as ArrayEntry | null;
  return a !== null && typeof a === 'object' && typeof a.name === 'string' && Number.isSafeInteger(a.offset) && a.offset >= 0 && Number.isSafeInteger(a.length) && a.length >= 0;
}

/**
 * Checks, before anything is built or read, that the arrays of the manifest fit in
 * `tensors.bin` (a short or missing file is an InputError naming it).
 */
async function checkTensorsSize(dir: string, manifest: Manifest): Promise<void> {
  const path = join(dir, TENSORS);
  const needed = 4 * manifest.arrays.reduce((end, e) => Math.max(end, e.offset + e.length), 0);
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (err) {
    throw new InputError(`${path}: cannot read the weights (${errorMessage(err)})`, { cause: err });
  }
  if (size < needed) throw new InputError(`${path}: ${size} bytes, the manifest's arrays need ${needed}: a truncated or mismatched file`);
  if (size % 4 !== 0) throw new InputError(`${path}: ${size} bytes is not a whole number of float32 values`);
}

/**
 * Reads a model directory written by `writeModel`: its manifest and its arrays by name.
 *
 * @example
 *   const { manifest, arrays } = await readModel('out/model', 'classifier');
 */
export async function readModel(dir: string, kind: ModelKind): Promise<{ manifest: Manifest; arrays: Map<string, Float32Array> }> {
  const manifest = await readManifest(dir, kind);
  await checkTensorsSize(dir, manifest);
  const buf = await readFile(join(dir, TENSORS));
  const bytes = new Uint8Array(buf.byteLength);
  bytes.set(buf);
  if (!littleEndian()) swap32(bytes);
  const all = new Float32Array(bytes.buffer);
  const arrays = new Map<string, Float32Array>();
  for (const e of manifest.arrays) {
    if (e.offset + e.length > all.length) throw new InputError(`${dir}/${TENSORS}: too short for array ${e.name}`);
    arrays.set(e.name, all.subarray(e.offset, e.offset + e.length));
  }
  return { manifest, arrays };
}

/** The array `name` of a loaded model, or a clear error naming `where` (the model directory). */
export function need(arrays: Map<string, Float32Array>, name: string, where = 'saved model'): Float32Array {
  const a = arrays.get(name);
  if (!a) throw new InputError(`${where}: has no array ${name}`);
  return a;
}

/**
 * Checks a saved encoder's config against its arrays before any network is built: a valid
 * ResNet config whose every variable is in the manifest with the size the config needs (so a
 * manifest edited to `"width": 4000` is an error at once, not gigabytes of allocation).
 */
function checkResnetConfig(dir: string, manifest: Manifest, config: unknown, prefix: string): Required<ResNetOptions> {
  const where = join(dir, MANIFEST);
  const c = config as Partial<Required<ResNetOptions>> | null;
  if (c === null || typeof c !== 'object') throw new InputError(`${where}: no encoder config`);
  const intIn = (v: unknown, lo: number, hi: number) => Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi;
  if (!intIn(c.width, 1, 4096)) throw new InputError(`${where}: encoder width ${JSON.stringify(c.width)} is not an integer in [1, 4096]`);
  if (!intIn(c.imageSize, 1, 8192)) throw new InputError(`${where}: encoder imageSize ${JSON.stringify(c.imageSize)} is not an integer in [1, 8192]`);
  if (c.stem !== 'cifar' && c.stem !== 'imagenet') throw new InputError(`${where}: encoder stem ${JSON.stringify(c.stem)} is not cifar or imagenet`);
  if (!Number.isFinite(c.seed)) throw new InputError(`${where}: encoder seed ${JSON.stringify(c.seed)} is not a number`);
  const entries = new Map(manifest.arrays.map((e) => [e.name, e]));
  for (const cb of convBns(resnetLayout(c))) {
    const sizes: [string, number][] = [[cb.conv, cb.k * cb.k * cb.inC * cb.outC], ...['gamma', 'beta', 'running_mean', 'running_var'].map((v): [string, number] => [`${cb.bn}.${v}`, cb.outC])];
    for (const [name, size] of sizes) {
      const e = entries.get(`${prefix}${name}`);
      if (!e) throw new InputError(`${where}: no array ${prefix}${name}, which the config (width ${c.width}) needs`);
      if (e.length !== size) {
        throw new InputError(`${where}: the config (width ${c.width}, stem ${c.stem}) needs ${size} values for ${prefix}${name}, the weights have ${e.length}`);
      }
    }
  }
  return c as Required<ResNetOptions>;
}

/**
 * Saves a flow bank: every flow's weights and Adam moments, step counts and the class buffers.
 *
 * @example
 *   await saveFlowBank(bank, 'out/flows', { mean, std });
 */
export async function saveFlowBank(bank: FlowBank, dir: string, extra?: unknown): Promise<void> {
  await saveFlowBankState(bank.getState(), dir, extra);
}

/**
 * Saves a flow bank's state (from `FlowBank.getState` or `FlowBankPool.getState`), as `saveFlowBank`.
 *
 * @example
 *   await saveFlowBankState(await pool.getState(), 'work/flows');
 */
export async function saveFlowBankState(state: FlowBankState, dir: string, extra?: unknown): Promise<void> {
  const arrays: NamedArray[] = [];
  state.flows.forEach((f, c) => {
    arrays.push({ name: `flow${c}/params`, values: f.params }, { name: `flow${c}/m`, values: f.m }, { name: `flow${c}/v`, values: f.v });
  });
  state.buffers.forEach((b, c) => arrays.push({ name: `buffer${c}`, values: b }));
  const flowMeta = state.flows.map((f) => ({ config: f.config, initialized: f.initialized, step: f.step }));
  await writeModel(dir, 'flow-bank', state.config, { flows: flowMeta }, arrays, extra);
}

/**
 * Loads a flow bank saved by `saveFlowBank`.
 *
 * @example
 *   const bank = await loadFlowBank('out/flows');
 */
export async function loadFlowBank(dir: string): Promise<FlowBank> {
  return FlowBank.fromState(await loadFlowBankState(dir));
}

/**
 * The state of a flow bank saved by `saveFlowBank` (e.g. to start a `FlowBankPool` from it).
 *
 * @example
 *   const pool = await FlowBankPool.create(await loadFlowBankState('work/flows'));
 */
export async function loadFlowBankState(dir: string): Promise<FlowBankState> {
  const { manifest, arrays } = await readModel(dir, 'flow-bank');
  const config = manifest.config as Required<FlowBankOptions>;
  const meta = (manifest.state as { flows: { config: FlowState['config']; initialized: boolean; step: number }[] }).flows;
  return {
    config,
    flows: meta.map((f, c) => ({
      config: f.config,
      initialized: f.initialized,
      step: f.step,
      params: need(arrays, `flow${c}/params`).slice(),
      m: need(arrays, `flow${c}/m`).slice(),
      v: need(arrays, `flow${c}/v`).slice(),
    })),
    buffers: meta.map((_, c) => need(arrays, `buffer${c}`).slice()),
  };
}

function resnetConfig(net: ResNet): Required<ResNetOptions> {
  return { width: net.width, imageSize: net.imageSize, stem: net.stem, seed: net.seed };
}

function resnetArrays(net: ResNet): NamedArray[] {
  return [...net.variables()].map(([name, v]) => ({ name: `encoder/${name}`, values: v.dataSync() as Float32Array, shape: v.shape }));
}

function restoreResnet(arrays: Map<string, Float32Array>, config: Required<ResNetOptions>): ResNet {
  const net = new ResNet(config);
  for (const [name, v] of net.variables()) {
    const values = need(arrays, `encoder/${name}`);
    tf.tidy(() => v.assign(tf.tensor(values, v.shape)));
  }
  return net;
}

/**
 * Saves a ResNet encoder: weights and BatchNorm running statistics.
 *
 * @example
 *   await saveResNet(net, 'out/encoder');
 */
export async function saveResNet(net: ResNet, dir: string, extra?: unknown): Promise<void> {
  await writeModel(dir, 'resnet', resnetConfig(net), null, resnetArrays(net), extra);
}

/**
 * Loads a ResNet saved by `saveResNet`, the encoder of a saved SimCLR trainer, or the backbone
 * of a `gssd train` classifier (its ResNet without the head: h, the pooled features).
 *
 * @example
 *   const net = await loadResNet('out/encoder');
 *   const backbone = await loadResNet('train-run/model');
 */
export async function loadResNet(dir: string): Promise<ResNet> {
  const manifest = await readManifest(dir);
  if (manifest.kind !== 'resnet' && manifest.kind !== 'simclr' && manifest.kind !== 'classifier') throw new InputError(`${dir}: holds a ${manifest.kind}, expected a resnet`);
  // a classifier's config holds the backbone's fields next to its own (numClasses, momentum, ...)
  const raw = manifest.kind === 'simclr' ? (manifest.config as { encoder?: unknown } | null)?.encoder : manifest.config;
  const checked = checkResnetConfig(dir, manifest, raw, 'encoder/');
  const config: Required<ResNetOptions> = { width: checked.width, imageSize: checked.imageSize, stem: checked.stem, seed: checked.seed };
  const { arrays } = await readModel(dir, manifest.kind);
  return restoreResnet(arrays, config);
}

/** Configuration of a saved SimCLR trainer. */
export interface SimclrConfig {
  encoder: Required<ResNetOptions>;
  simclr: Required<SimclrOptions>;
}

/**
 * A SimCLR trainer's whole state as plain arrays, whatever engine trained it: the encoder's
 * variables by name (filters HWIO), the head's matrices, and Adam's step count and moments in
 * the order of the trained variables (encoder's trainable ones, then the head's), or null
 * before the first step.
 */
export interface SimclrArrays {
  config: SimclrConfig;
  encoder: Map<string, Float32Array>;
  head: Float32Array[];
  adam: { iterations: number; m: Float32Array[]; v: Float32Array[] } | null;
}

/**
 * Saves a SimCLR trainer: encoder, projection head and the Adam state, for resuming.
 *
 * @example
 *   await saveSimclr(trainer, 'out/pretrain', { epoch: 12, rng: rng.state() });
 */
export async function saveSimclr(trainer: SimclrTrainer, dir: string, extra?: unknown): Promise<void> {
  const weights = await trainer.optimizer.getWeights();
  const slots = weights.slice(1).map((w) => w.tensor.dataSync() as Float32Array);
  const half = slots.length / 2;
  await saveSimclrArrays(
    {
      config: { encoder: resnetConfig(trainer.encoder), simclr: trainer.options },
      encoder: new Map(resnetArrays(trainer.encoder).map((a) => [a.name.slice('encoder/'.length), a.values])),
      head: trainer.headVariables().map((v) => v.dataSync() as Float32Array),
      adam: slots.length > 0 ? { iterations: weights[0].tensor.dataSync()[0], m: slots.slice(0, half), v: slots.slice(half) } : null,
    },
    dir,
    extra,
  );
}

/**
 * Saves SimCLR state arrays in the format of `saveSimclr` (kind `simclr`): what either
 * engine's trainer resumes from.
 *
 * @example
 *   await saveSimclrArrays(onnxTrainer.arrays(), 'ck/simclr-e1-s0');
 */
export async function saveSimclrArrays(a: SimclrArrays, dir: string, extra?: unknown): Promise<void> {
  const layout = resnetLayout(a.config.encoder);
  const arrays: NamedArray[] = resnetInitialVariables(layout).map((v) => ({ name: `encoder/${v.name}`, values: need(a.encoder, v.name), shape: v.shape }));
  const d = layout.featureDim;
  const headShapes = [[d, d], [d, a.config.simclr.projDim]];
  a.head.forEach((values, i) => arrays.push({ name: `head/${i}`, values, shape: headShapes[i] }));
  const slots = a.adam ? [...a.adam.m, ...a.adam.v] : [];
  slots.forEach((values, i) => arrays.push({ name: `adam/${i}`, values }));
  await writeModel(dir, 'simclr', a.config, { adamIterations: a.adam?.iterations ?? 0, adamSlots: slots.length }, arrays, extra);
}

/**
 * Reads a saved SimCLR trainer's arrays (either engine's save).
 *
 * @example
 *   const state = await loadSimclrArrays('ck/simclr-e1-s0');
 */
export async function loadSimclrArrays(dir: string): Promise<SimclrArrays> {
  const manifest = await readManifest(dir, 'simclr');
  checkResnetConfig(dir, manifest, (manifest.config as { encoder?: unknown } | null)?.encoder, 'encoder/');
  const { arrays } = await readModel(dir, 'simclr');
  const config = manifest.config as SimclrConfig;
  const state = manifest.state as { adamIterations: number; adamSlots: number };
  const encoder = new Map<string, Float32Array>();
  for (const v of resnetInitialVariables(resnetLayout(config.encoder))) encoder.set(v.name, need(arrays, `encoder/${v.name}`, dir).slice());
  const head = [0, 1].map((i) => need(arrays, `head/${i}`, dir).slice());
  const slots = Array.from({ length: state.adamSlots }, (_, i) => need(arrays, `adam/${i}`, dir).slice());
  const half = slots.length / 2;
  const adam = slots.length > 0 ? { iterations: state.adamIterations, m: slots.slice(0, half), v: slots.slice(half) } : null;
  return { config, encoder, head, adam };
}

/**
 * Loads a SimCLR trainer saved by `saveSimclr` (or `saveSimclrArrays`); training continues
 * exactly where it stopped.
 *
 * @example
 *   const trainer = await loadSimclr('out/pretrain');
 */
export async function loadSimclr(dir: string): Promise<SimclrTrainer> {
  const a = await loadSimclrArrays(dir);
  const net = new ResNet(a.config.encoder);
  for (const [name, v] of net.variables()) tf.tidy(() => v.assign(tf.tensor(need(a.encoder, name), v.shape)));
  const trainer = new SimclrTrainer(net, a.config.simclr);
  trainer.headVariables().forEach((v, i) => tf.tidy(() => v.assign(tf.tensor(a.head[i], v.shape))));
  if (a.adam) {
    const tensors = trainer.trainableVariables().map((v, i) => tf.tensor(a.adam!.m[i], v.shape));
    trainer.trainableVariables().forEach((v, i) => tensors.push(tf.tensor(a.adam!.v[i], v.shape)));
    const iter = tf.scalar(a.adam.iterations, 'int32');
    await trainer.optimizer.setWeights([{ name: 'iter', tensor: iter }, ...tensors.map((tensor, i) => ({ name: `slot${i}`, tensor }))]);
    iter.dispose();
    for (const t of tensors) t.dispose();
  }
  return trainer;
}

/**
 * Saves an encoder given as arrays (filters HWIO) in the format of `saveResNet`.
 *
 * @example
 *   await saveResNetArrays(state.config.encoder, state.encoder, 'out/encoder');
 */
export async function saveResNetArrays(config: Required<ResNetOptions>, encoder: Map<string, Float32Array>, dir: string, extra?: unknown): Promise<void> {
  const arrays = resnetInitialVariables(resnetLayout(config)).map((v) => ({ name: `encoder/${v.name}`, values: need(encoder, v.name), shape: v.shape }));
  await writeModel(dir, 'resnet', config, null, arrays, extra);
}

function littleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

function swap32(bytes: Uint8Array): void {
  for (let i = 0; i < bytes.length; i += 4) {
    [bytes[i], bytes[i + 3]] = [bytes[i + 3], bytes[i]];
    [bytes[i + 1], bytes[i + 2]] = [bytes[i + 2], bytes[i + 1]];
  }
}

/**
 * Saves one class's flow out of a bank (weights, Adam moments, ActNorm state) with the bank's
 * config: what a per-class fit job hands back.
 *
 * @example
 *   await saveClassFlow(bank, 3, 'jobs/flow-3');
 */
export async function saveClassFlow(bank: FlowBank, label: number, dir: string): Promise<void> {
  const f = bank.flow(label).getState();
  const arrays: NamedArray[] = [{ name: 'params', values: f.params }, { name: 'm', values: f.m }, { name: 'v', values: f.v }];
  await writeModel(dir, 'flow', bank.config, { label, config: f.config, initialized: f.initialized, step: f.step }, arrays, null);
}

/**
 * A flow bank assembled from per-class saves (`saveClassFlow`), one directory per class.
 *
 * @example
 *   const bank = await loadClassFlows(['jobs/flow-0', 'jobs/flow-1', 'jobs/flow-2']);
 */
export async function loadClassFlows(dirs: string[]): Promise<FlowBank> {
  let bank: FlowBank | null = null;
  for (const dir of dirs) {
    const { manifest, arrays } = await readModel(dir, 'flow');
    const s = manifest.state as { label: number; config: FlowState['config']; initialized: boolean; step: number };
    bank ??= new FlowBank(manifest.config as Required<FlowBankOptions>);
    bank.flow(s.label).setState({ config: s.config, initialized: s.initialized, step: s.step, params: need(arrays, 'params').slice(), m: need(arrays, 'm').slice(), v: need(arrays, 'v').slice() });
  }
  if (!bank) throw new Error('loadClassFlows: no directories');
  return bank;
}

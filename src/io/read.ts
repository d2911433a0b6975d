import { parquetMetadataAsync, parquetRead, parquetSchema, toJson, type AsyncBuffer, type FileMetaData } from 'hyparquet';
import { closeHttpAgents, httpAgents, type HttpAgents } from './http-get.js';
import PQueue from 'p-queue';
import { Field, Int32, Int64, Type, Utf8, type Data, type DataType, type RecordBatch } from 'apache-arrow';
import { InputError, UsageError, errorMessage, expectInteger } from '../errors.js';
import { fileBuffer, rangeBuffer, type InputBuffer } from './async-buffer.js';
import { buildData, makeBatch, type ColumnValues } from './arrow-data.js';
import { imageColumnOf, resolveColumns, type Columns, type ColumnsOption } from './columns.js';
import { httpBuffer } from './http-buffer.js';
import { isUrl } from './inputs.js';
import { s3Buffer } from './s3-buffer.js';
import { isS3Uri } from './s3-uri.js';
import { planColumn, type ColumnPlan } from './parquet-schema.js';

/** Options of {@link readChunks}. */
export interface ReadOptions {
  /** Most rows per batch (default 1024). Row groups are split, never merged. */
  batchRows?: number;
  /**
   * Names of the id, label and image columns (default `id`, `label`, `image`; without an
   * `image` column, the one column of an image type, as in Hugging Face `datasets` files).
   */
  columns?: ColumnsOption;
  /** When given, labels outside [0, numClasses) are an InputError. */
  numClasses?: number;
  /** Global row index to resume from: earlier rows are skipped using footer row counts. */
  startRow?: number;
  /** Retries of a failed remote request (default 5). */
  retries?: number;
  /** Base of the exponential retry backoff, ms (default 200). */
  retryDelayMs?: number;
  /** Footers and row groups fetched ahead of the consumer (default 2). */
  concurrency?: number;
  /** Connect, response-header and between-chunk timeout of remote requests, ms (default 30000). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Check that the image column exists and is binary (default true); false reads any table with a label. */
  requireImage?: boolean;
  /** Where a URL without Range support is downloaded to (default the OS temp directory); runs pass their `DIR/tmp`. */
  tempDir?: string;
}

/** One batch of rows and where it came from. */
export interface Chunk {
  /** The file path or URL. */
  input: string;
  /** Position of `input` in the list of inputs. */
  inputIndex: number;
  rowGroup: number;
  /** Global row index (over all inputs, in order) of the batch's first row. */
  rowStart: number;
  batch: RecordBatch;
}

interface Settings {
  batchRows: number;
  columns: Columns;
  numClasses?: number;
  startRow: number;
  retries: number;
  retryDelayMs: number;
  concurrency: number;
  timeoutMs: number;
  tempDir?: string;
}

/** An opened input: its bytes, footer and column plan. */
interface OpenInput {
  buffer: InputBuffer;
  metadata: FileMetaData;
  plans: ColumnPlan[];
}

/**
 * Reads Parquet inputs (paths, http(s) URLs or s3:// URIs, see `resolveInputs`) row group by row group as
 * Arrow batches of at most `batchRows` rows, with the contract of `columns.ts`: all input
 * columns under their own names, id Int64 (added from the global row index when absent),
 * label Int32 (checked), image Binary or `{bytes, path}` Struct. Upcoming footers and row
 * groups are fetched ahead (`concurrency`). Stopping early releases files and sockets.
 *
 * @example
 *   for await (const { input, rowGroup, rowStart, batch } of readChunks(['a.parquet'], { numClasses: 10 })) {
 *     console.log(input, rowGroup, rowStart, batch.numRows);
 *   }
 */
export async function* readChunks(inputs: string[], opts: ReadOptions = {}): AsyncGenerator<Chunk> {
  const s = settings(opts);
  const session = new Session(inputs, s, opts.signal);
  try {
    let global = 0;
    let first: { opened: OpenInput; input: string } | undefined;
    for (let inputIndex = 0; inputIndex < inputs.length; inputIndex++) {
      session.prefetchOpens(inputIndex);
      const opened = await session.open(inputIndex);
      const input = inputs[inputIndex];
      try {
        const fileRows = Number(opened.metadata.num_rows);
        if (global + fileRows <= s.startRow) {
          global += fileRows;
          continue;
        }
        first ??= { opened, input };
        checkSchema(input, opened, first.opened, first.input, s.columns, opts.requireImage ?? true);
        const groups = groupRanges(opened.metadata);
        const wanted = groups.filter((g) => global + g.end > s.startRow);
        const fetches = new Map<number, Promise<AsyncBuffer>>();
        const fetchAhead = (k: number) => {
          for (let j = k; j < Math.min(wanted.length, k + s.concurrency); j++) {
            const g = wanted[j];
            if (!fetches.has(g.index)) fetches.set(g.index, session.fetchGroup(opened, g.index));
          }
        };
        for (let k = 0; k < wanted.length; k++) {
          const group = wanted[k];
          fetchAhead(k);
          const view = await fetches.get(group.index)!;
          fetches.delete(group.index);
          const values = await readGroupColumns(input, view, opened.metadata, group, session.signal);
          const skip = Math.max(0, s.startRow - (global + group.start));
          for (let from = group.start + skip; from < group.end; from += s.batchRows) {
            const to = Math.min(group.end, from + s.batchRows);
            const batch = buildBatch(input, opened, values, group, from, to, global, s);
            opts.signal?.throwIfAborted();
            yield { input, inputIndex, rowGroup: group.index, rowStart: global + from, batch };
          }
        }
        global += fileRows;
      } finally {
        await session.close(inputIndex);
      }
    }
  } finally {
    await session.dispose();
  }
}

/**
 * Like {@link readChunks}, only the batches.
 *
 * @example
 *   for await (const batch of readBatches(await resolveInputs(['shards/']))) use(batch);
 */
export async function* readBatches(inputs: string[], opts: ReadOptions = {}): AsyncGenerator<RecordBatch> {
  for await (const chunk of readChunks(inputs, opts)) yield chunk.batch;
}

/**
 * Total rows of the inputs from their footers (no row group is read), e.g. for an ETA.
 *
 * @example
 *   const total = await countRows(inputs);
 */
export async function countRows(inputs: string[], opts: ReadOptions = {}): Promise<number> {
  return (await readFooters(inputs, opts)).reduce((sum, f) => sum + f.rows, 0);
}

/** What an input's footer says: its rows, and the fields its batches have. */
export interface InputFooter {
  input: string;
  rows: number;
  fields: Field[];
  /** Whether the file has the id column (else the batches carry one made from the row index). */
  hasId: boolean;
  /** The Arrow type of the file's own label column (the batches carry it as Int32); null without one. */
  labelType: DataType | null;
  /** The file's key-value metadata (e.g. `huggingface`). */
  metadata: Record<string, string>;
}

/**
 * Row count and batch fields of every input from its footer alone (no row group is read):
 * the schema even of a file with no rows.
 *
 * @example
 *   const [{ rows, fields }] = await readFooters(['part-00000.parquet']);
 */
export async function readFooters(inputs: string[], opts: ReadOptions = {}): Promise<InputFooter[]> {
  const s = settings(opts);
  const session = new Session(inputs, s, opts.signal);
  try {
    const out: InputFooter[] = [];
    for (let i = 0; i < inputs.length; i++) {
      session.prefetchOpens(i);
      const opened = await session.open(i);
      const label = opened.plans.find((p) => p.name === s.columns.label);
      out.push({
        input: inputs[i],
        rows: Number(opened.metadata.num_rows),
        fields: fieldsOf(opened, s.columns),
        hasId: opened.plans.some((p) => p.name === s.columns.id),
        labelType: label?.integer ? label.type : null,
        metadata: Object.fromEntries((opened.metadata.key_value_metadata ?? []).map((kv) => [kv.key, kv.value ?? ''])),
      });
      await session.close(i);
    }
    return out;
  } finally {
    await session.dispose();
  }
}

/** Opens inputs ahead of use on a shared queue and releases everything at the end. */
class Session {
  private readonly queue: PQueue;
  private readonly abort = new AbortController();
  private readonly agents: HttpAgents;
  private readonly opens = new Map<number, Promise<OpenInput>>();
  readonly signal: AbortSignal;

  constructor(private readonly inputs: string[], private readonly s: Settings, userSignal?: AbortSignal) {
    this.queue = new PQueue({ concurrency: s.concurrency });
    this.agents = httpAgents(s.timeoutMs);
    this.signal = userSignal ? AbortSignal.any([userSignal, this.abort.signal]) : this.abort.signal;
    userSignal?.throwIfAborted();
  }

  /** Starts opening inputs `from .. from + concurrency - 1` if not yet started. */
  prefetchOpens(from: number): void {
    for (let i = from; i < Math.min(this.inputs.length, from + this.s.concurrency); i++) {
      if (this.opens.has(i)) continue;
      const p = this.queue.add(() => this.openNow(this.inputs[i])) as Promise<OpenInput>;
      p.catch(() => {});
      this.opens.set(i, p);
    }
  }

  open(index: number): Promise<OpenInput> {
    this.prefetchOpens(index);
    return this.opens.get(index)!;
  }

  async close(index: number): Promise<void> {
    const p = this.opens.get(index);
    this.opens.delete(index);
    const opened = await p?.catch(() => undefined);
    await opened?.buffer.close().catch(() => {});
  }

  /** Fetches the bytes of row group `index` in one request and serves its slices from memory. */
  fetchGroup(opened: OpenInput, index: number) {
    const p = this.queue.add(async () => {
      const group = opened.metadata.row_groups[index];
      let start = Infinity;
      let end = 0;
      for (const column of group.columns) {
        const meta = column.meta_data;
        if (!meta) continue;
        const first = Number(meta.dictionary_page_offset || meta.data_page_offset);
        start = Math.min(start, first, Number(meta.data_page_offset));
        end = Math.max(end, first + Number(meta.total_compressed_size));
      }
      if (!(end > start) || end > opened.buffer.byteLength) return opened.buffer; // let the reader report it
      const bytes = new Uint8Array(await opened.buffer.slice(start, end));
      return rangeBuffer(opened.buffer, start, bytes);
    }) as Promise<AsyncBuffer>;
    p.catch(() => {});
    return p;
  }

  private async openNow(input: string): Promise<OpenInput> {
    this.signal.throwIfAborted();
    const buffer = isUrl(input)
      ? await httpBuffer(input, {
          retries: this.s.retries,
          retryDelayMs: this.s.retryDelayMs,
          timeoutMs: this.s.timeoutMs,
          agents: this.agents,
          signal: this.signal,
          tempDir: this.s.tempDir,
        })
      : isS3Uri(input)
        ? await s3Buffer(input, { retries: this.s.retries, retryDelayMs: this.s.retryDelayMs, timeoutMs: this.s.timeoutMs, signal: this.signal })
        : await fileBuffer(input);
    try {
      let metadata: FileMetaData;
      try {
        metadata = await parquetMetadataAsync(buffer);
      } catch (err) {
        if (err instanceof InputError || this.signal.aborted) throw err;
        throw new InputError(`${input}: not a Parquet file, or a truncated or corrupt one (${errorMessage(err)})`, { cause: err });
      }
      const plans = parquetSchema(metadata).children.map(planColumn);
      return { buffer, metadata, plans };
    } catch (err) {
      await buffer.close().catch(() => {});
      throw err;
    }
  }

  async dispose(): Promise<void> {
    this.queue.clear();
    this.abort.abort(new Error('reader closed'));
    for (const index of [...this.opens.keys()]) await this.close(index);
    await this.queue.onIdle().catch(() => {});
    closeHttpAgents(this.agents);
  }
}

function settings(opts: ReadOptions): Settings {
  const s: Settings = {
    batchRows: opts.batchRows ?? 1024,
    columns: resolveColumns(opts.columns),
    numClasses: opts.numClasses,
    startRow: opts.startRow ?? 0,
    retries: opts.retries ?? 5,
    retryDelayMs: opts.retryDelayMs ?? 200,
    concurrency: opts.concurrency ?? 2,
    timeoutMs: opts.timeoutMs ?? 30_000,
    tempDir: opts.tempDir,
  };
  expectInteger('batchRows', s.batchRows, 1);
  expectInteger('startRow', s.startRow, 0);
  expectInteger('retries', s.retries, 0);
  expectInteger('concurrency', s.concurrency, 1);
  if (s.numClasses !== undefined) expectInteger('numClasses', s.numClasses, 1);
  if (!(s.timeoutMs > 0)) throw new UsageError(`Expected \`timeoutMs\` to be a number above 0, got \`${s.timeoutMs}\``);
  if (!(s.retryDelayMs >= 0)) throw new UsageError(`Expected \`retryDelayMs\` to be a number from 0 and up, got \`${s.retryDelayMs}\``);
  return s;
}


interface GroupRange {
  index: number;
  /** First row of the group within its file. */
  start: number;
  end: number;
}

function groupRanges(metadata: FileMetaData): GroupRange[] {
  const out: GroupRange[] = [];
  let start = 0;
  metadata.row_groups.forEach((group, index) => {
    const end = start + Number(group.num_rows);
    out.push({ index, start, end });
    start = end;
  });
  return out;
}

/** Checks the role columns of one input and that it has the same columns as the first. */
function checkSchema(input: string, opened: OpenInput, first: OpenInput, firstInput: string, columns: Columns, requireImage: boolean): void {
  const byName = new Map(opened.plans.map((p) => [p.name, p]));
  const present = () => opened.plans.map((p) => p.name).join(', ');
  const imageName = imageColumnOf(opened.plans.filter((p) => !p.json), columns.image) ?? columns.image;
  columns = { ...columns, image: imageName };
  for (const role of requireImage ? (['label', 'image'] as const) : (['label'] as const)) {
    if (!byName.has(columns[role])) {
      throw new InputError(`${input}: no ${role} column "${columns[role]}" (columns: ${present()})`);
    }
  }
  const label = byName.get(columns.label)!;
  if (!label.integer) {
    throw new InputError(`${input}: label column "${label.name}" has type ${label.parquetType}, expected an integer type`);
  }
  const id = byName.get(columns.id);
  if (id && !id.integer) {
    throw new InputError(`${input}: id column "${id.name}" has type ${id.parquetType}, expected an integer type`);
  }
  const image = byName.get(columns.image);
  if (!requireImage || !image) return checkSameColumns(input, opened, first, firstInput);
  const imageType = image.type;
  const isBinary = !image.json && imageType.typeId === Type.Binary;
  const isStruct = !image.json && imageType.typeId === Type.Struct
    && imageType.children.some((c) => c.name === 'bytes' && c.type.typeId === Type.Binary);
  if (!isBinary && !isStruct) {
    throw new InputError(`${input}: image column "${image.name}" has type ${image.parquetType}, expected binary or a {bytes, path} struct`);
  }
  checkSameColumns(input, opened, first, firstInput);
}

/** Every input must have the columns of the first one. */
function checkSameColumns(input: string, opened: OpenInput, first: OpenInput, firstInput: string): void {
  if (opened === first) return;
  const sig = (o: OpenInput) => o.plans.map((p) => `${p.name}: ${p.parquetType}`).join(', ');
  if (sig(opened) !== sig(first)) {
    throw new InputError(`${input}: columns differ from ${firstInput} (${sig(opened)} vs ${sig(first)})`);
  }
}

/** Decodes every column of one row group into plain values. */
async function readGroupColumns(
  input: string,
  file: AsyncBuffer,
  metadata: FileMetaData,
  group: GroupRange,
  signal: AbortSignal,
): Promise<Map<string, ColumnValues>> {
  const parts = new Map<string, { rowStart: number; data: ColumnValues }[]>();
  try {
    await parquetRead({
      file,
      metadata,
      utf8: false,
      rowStart: group.start,
      rowEnd: group.end,
      onChunk: ({ columnName, columnData, rowStart }) => {
        let list = parts.get(columnName);
        if (!list) parts.set(columnName, (list = []));
        list.push({ rowStart, data: columnData });
      },
    });
  } catch (err) {
    if (err instanceof InputError || signal.aborted) throw err;
    throw new InputError(`${input}: row group ${group.index}: cannot decode (${errorMessage(err)})`, { cause: err });
  }
  const rows = group.end - group.start;
  const out = new Map<string, ColumnValues>();
  for (const [name, list] of parts) {
    list.sort((a, b) => a.rowStart - b.rowStart);
    const first = list[0];
    if (list.length === 1 && first.rowStart === group.start && first.data.length === rows) {
      out.set(name, first.data);
      continue;
    }
    const merged = new Array(rows);
    for (const { rowStart, data } of list) {
      for (let i = 0; i < data.length; i++) {
        const at = rowStart - group.start + i;
        if (at >= 0 && at < rows) merged[at] = data[i];
      }
    }
    out.set(name, merged);
  }
  return out;
}

/** Builds the batch for file rows `[from, to)` of one row group, checking id and label. */
function buildBatch(
  input: string,
  opened: OpenInput,
  values: Map<string, ColumnValues>,
  group: GroupRange,
  from: number,
  to: number,
  fileGlobalStart: number,
  s: Settings,
): RecordBatch {
  const { columns } = s;
  const fields: Field[] = [];
  const children: Data[] = [];
  const n = to - from;
  const at = (row: number) => `${input}: row group ${group.index}, row ${row}`;
  if (!opened.plans.some((p) => p.name === columns.id)) {
    const ids = new BigInt64Array(n);
    for (let i = 0; i < n; i++) ids[i] = BigInt(fileGlobalStart + from + i);
    fields.push(new Field(columns.id, new Int64(), false));
    children.push(buildData(new Int64(), ids, 0, n));
  }
  for (const plan of opened.plans) {
    let data = values.get(plan.name);
    if (!data) throw new InputError(`${input}: row group ${group.index}: column "${plan.name}" is missing`);
    const start = from - group.start;
    const end = to - group.start;
    if (plan.name === columns.label) {
      const labels = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = data[start + i];
        if (v == null) throw new InputError(`${at(from + i)}: label is null`);
        const k = Number(v);
        // labels are class indices: a negative one is bad input (the embedding cache also uses -1 as "no label")
        if (s.numClasses !== undefined ? !(k >= 0 && k < s.numClasses) : !(k >= 0 && k <= 2147483647)) {
          const range = s.numClasses !== undefined ? `[0, ${s.numClasses})` : '[0, 2^31) (a class index)';
          throw new InputError(`${at(from + i)}: label ${String(v)} is outside ${range}`);
        }
        labels[i] = k;
      }
      fields.push(fieldOf(plan, columns));
      children.push(buildData(new Int32(), labels, 0, n));
      continue;
    }
    if (plan.name === columns.id) {
      for (let i = 0; i < n; i++) if (data[start + i] == null) throw new InputError(`${at(from + i)}: id is null`);
      fields.push(fieldOf(plan, columns));
      children.push(buildData(new Int64(), data, start, end));
      continue;
    }
    if (plan.json) {
      const text = new Array(n);
      for (let i = 0; i < n; i++) {
        const v = data[start + i];
        text[i] = v == null ? null : JSON.stringify(toJson(v));
      }
      data = text;
      fields.push(fieldOf(plan, columns));
      children.push(buildData(new Utf8(), data, 0, n));
      continue;
    }
    fields.push(fieldOf(plan, columns));
    children.push(buildData(plan.type, data, start, end));
  }
  return makeBatch(fields, children);
}

/** The Arrow field a Parquet column becomes in the batches (label Int32, id Int64, nested as JSON text). */
function fieldOf(plan: ColumnPlan, columns: Columns): Field {
  if (plan.name === columns.label) return new Field(plan.name, new Int32(), false);
  if (plan.name === columns.id) return new Field(plan.name, new Int64(), false);
  if (plan.json) return new Field(plan.name, new Utf8(), true);
  return new Field(plan.name, plan.type, plan.nullable);
}

/** Every field of the batches read from `opened`, in order (the synthetic id first when absent). */
function fieldsOf(opened: OpenInput, columns: Columns): Field[] {
  const fields = opened.plans.map((p) => fieldOf(p, columns));
  return opened.plans.some((p) => p.name === columns.id) ? fields : [new Field(columns.id, new Int64(), false), ...fields];
}

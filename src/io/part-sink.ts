import { mkdir, open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { crashPoint } from '../fault.js';
import { join } from 'node:path';
import { ByteWriter, ParquetWriter, type ColumnSource, type SchemaElement } from 'hyparquet-writer';
import { Type, type DataType, type Field, type Float, type Int, type RecordBatch, type Schema, type Struct, type Vector } from 'apache-arrow';
import { UsageError, expectInteger } from '../errors.js';

/** Options of {@link PartSink.open}. */
export interface PartSinkOptions {
  /** Rows per part file before rolling to the next (default 100_000). */
  partRows?: number;
  /** Rows per Parquet row group (default 1000); at most this many rows are buffered. */
  rowGroupRows?: number;
  /** Key-value metadata written into every part's footer. */
  metadata?: Record<string, string>;
  /** Number of the first part to write (default 0), e.g. from a checkpoint. */
  startPart?: number;
  /** Parquet compression (default UNCOMPRESSED: encoded images do not compress). */
  codec?: 'UNCOMPRESSED' | 'SNAPPY';
}

/** File name of part `n`: `part-00007.parquet`. */
export function partName(n: number): string {
  return `part-${String(n).padStart(5, '0')}.parquet`;
}

const PART_FILE = /^part-(\d{5,})\.parquet$/;

/**
 * A Parquet sink into a directory that rolls part files (`part-00000.parquet`, ...) every
 * `partRows` rows. A part is written as `part-NNNNN.parquet.tmp` and renamed when it is
 * committed, so a crash never leaves a file that looks complete. The schema is the first
 * batch's Arrow schema (Int8-64, Uint8-32, Float32/64, Bool, Utf8, Binary and Structs of
 * those; nullable or not).
 *
 * @example
 *   const sink = await PartSink.open('out/clean', { partRows: 100_000, metadata: { tool: 'gssd' } });
 *   for await (const batch of batches) await sink.write(batch);
 *   await sink.close();
 */
export class PartSink {
  private part: OpenPart | undefined;
  private pending: { batch: RecordBatch; offset: number; length: number }[] = [];
  private pendingRows = 0;
  private written = 0;
  private next: number;
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly partRows: number,
    private readonly rowGroupRows: number,
    private readonly kv: { key: string; value: string }[],
    private readonly codec: 'UNCOMPRESSED' | 'SNAPPY',
    startPart: number,
  ) {
    this.next = startPart;
  }

  /**
   * Opens (creating it if needed) the directory; removes stale `*.tmp` files and any
   * `part-NNNNN.parquet` numbered `startPart` or above, which a resumed run rewrites.
   */
  static async open(dir: string, opts: PartSinkOptions = {}): Promise<PartSink> {
    const partRows = opts.partRows ?? 100_000;
    const rowGroupRows = Math.min(opts.rowGroupRows ?? 1000, partRows);
    const startPart = opts.startPart ?? 0;
    expectInteger('partRows', partRows, 1);
    expectInteger('rowGroupRows', rowGroupRows, 1);
    expectInteger('startPart', startPart, 0);
    await mkdir(dir, { recursive: true });
    for (const name of await readdir(dir)) {
      const m = PART_FILE.exec(name);
      if (name.endsWith('.tmp') || (m && Number(m[1]) >= startPart)) await unlink(join(dir, name)).catch(() => {});
    }
    const kv = Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value }));
    return new PartSink(dir, partRows, rowGroupRows, kv, opts.codec ?? 'UNCOMPRESSED', startPart);
  }

  /** Number of the part the next write goes to once the current one is committed. */
  get nextPart(): number {
    return this.part ? this.part.number + 1 : this.next;
  }

  /** Rows accepted so far (committed or buffered). */
  get rowsWritten(): number {
    return this.written;
  }

  /** Buffers the rows of `batch`, writing row groups and rolling parts as they fill. */
  async write(batch: RecordBatch): Promise<void> {
    if (this.closed) throw new Error('PartSink: write after close');
    let offset = 0;
    while (offset < batch.numRows) {
      if (!this.part) this.part = await this.startPart(batch.schema);
      else checkSameSchema(this.part.schema, batch.schema, this.dir);
      const roomInPart = this.partRows - this.part.rows - this.pendingRows;
      const roomInGroup = this.rowGroupRows - this.pendingRows;
      const take = Math.min(batch.numRows - offset, roomInPart, roomInGroup);
      this.pending.push({ batch, offset, length: take });
      this.pendingRows += take;
      this.written += take;
      offset += take;
      if (this.pendingRows === this.rowGroupRows || this.part.rows + this.pendingRows === this.partRows) {
        await this.flushGroup();
      }
      if (this.part.rows === this.partRows) await this.commit();
    }
  }

  /** Finishes the current part now if it has rows; the next write starts a new part. */
  async commit(): Promise<void> {
    const part = this.part;
    if (!part) return;
    await this.flushGroup();
    this.part = undefined;
    if (part.rows === 0) {
      await part.file.close().catch(() => {});
      await unlink(part.tmpPath).catch(() => {});
      return;
    }
    await finishPart(part);
    this.next = part.number + 1;
  }

  /** Commits the current part; the sink takes no more writes. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.commit();
    this.closed = true;
  }

  /**
   * If this sink holds no part at all (no rows written, none committed before a resume),
   * commits `part-00000.parquet` with no rows and `schema`, so that every output directory
   * holds a readable file with the schema, as data-lake readers expect.
   */
  async commitEmptyIfNone(schema: Schema): Promise<void> {
    if (this.written > 0 || this.part || this.next !== 0) return;
    await finishPart(await this.startPart(schema));
  }

  /** Drops the current uncommitted part (its `.tmp` file) without committing, e.g. on error. */
  async abort(): Promise<void> {
    const part = this.part;
    this.part = undefined;
    this.pending = [];
    this.pendingRows = 0;
    this.closed = true;
    if (part) {
      await part.file.close().catch(() => {});
      await unlink(part.tmpPath).catch(() => {});
    }
  }

  private async startPart(schema: Schema): Promise<OpenPart> {
    const number = this.next;
    const path = join(this.dir, partName(number));
    const tmpPath = `${path}.tmp`;
    const elements = parquetSchemaOf(schema);
    const file = await open(tmpPath, 'w');
    const writer = new FileByteWriter(file);
    const parquet = new ParquetWriter({
      writer,
      schema: elements,
      codec: this.codec,
      kvMetadata: this.kv.length ? this.kv : undefined,
      createdBy: 'gssd',
    });
    this.next = number + 1;
    return { number, path, tmpPath, file, writer: parquet, schema, rows: 0 };
  }

  private async flushGroup(): Promise<void> {
    const part = this.part;
    if (!part || this.pendingRows === 0) return;
    const rows = this.pendingRows;
    const columnData: ColumnSource[] = part.schema.fields.map((field, i) => {
      const pieces = this.pending.map(({ batch, offset, length }) =>
        columnValues(batch.getChildAt(i)!, field.type, offset, length));
      const binaryish = field.type.typeId === Type.Binary || field.type.typeId === Type.Struct;
      return {
        name: field.name,
        data: concatValues(pieces, rows),
        ...(binaryish ? { encoding: 'PLAIN' as const, statistics: false } : {}),
      };
    });
    this.pending = [];
    this.pendingRows = 0;
    await part.writer.write({ columnData, rowGroupSize: rows });
    part.rows += rows;
  }
}

/** Writes the footer, fsyncs, and renames the part to its final name: the commit point. */
async function finishPart(part: OpenPart): Promise<void> {
  try {
    await part.writer.finish();
    await part.file.sync();
  } finally {
    await part.file.close();
  }
  crashPoint('sink-commit');
  await rename(part.tmpPath, part.path);
}

interface OpenPart {
  number: number;
  path: string;
  tmpPath: string;
  file: FileHandle;
  writer: ParquetWriter;
  schema: Schema;
  rows: number;
}

/** A ByteWriter that empties its buffer into a file after each row group. */
class FileByteWriter extends ByteWriter {
  constructor(private readonly file: FileHandle) {
    super(1 << 20);
  }

  flush(): Promise<void> {
    return this.drain();
  }

  override finish(): Promise<void> {
    return this.drain();
  }

  private async drain(): Promise<void> {
    if (this.index === 0) return;
    const bytes = new Uint8Array(this.buffer, 0, this.index);
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.file.write(bytes, done, bytes.length - done);
      done += bytesWritten;
    }
    this.index = 0;
  }
}

/**
 * The Parquet schema elements for an Arrow schema.
 *
 * @example
 *   const elements = parquetSchemaOf(batch.schema); // [{ name: 'root', num_children: 3 }, ...]
 */
export function parquetSchemaOf(schema: Schema): SchemaElement[] {
  const out: SchemaElement[] = [{ name: 'root', num_children: schema.fields.length }];
  for (const field of schema.fields) out.push(...elementsOf(field));
  return out;
}

function elementsOf(field: Field): SchemaElement[] {
  const repetition_type = field.nullable ? 'OPTIONAL' : 'REQUIRED';
  const { name, type } = field;
  switch (type.typeId) {
    case Type.Int: {
      const { bitWidth, isSigned } = type as Int;
      return [{ name, repetition_type, type: bitWidth === 64 || (!isSigned && bitWidth === 32) ? 'INT64' : 'INT32' }];
    }
    case Type.Float:
      return [{ name, repetition_type, type: (type as Float).precision === 2 ? 'DOUBLE' : 'FLOAT' }];
    case Type.Bool:
      return [{ name, repetition_type, type: 'BOOLEAN' }];
    case Type.Utf8:
      return [{ name, repetition_type, type: 'BYTE_ARRAY', converted_type: 'UTF8' }];
    case Type.Binary:
      return [{ name, repetition_type, type: 'BYTE_ARRAY' }];
    case Type.Struct: {
      const children = (type as Struct).children;
      return [{ name, repetition_type, num_children: children.length }, ...children.flatMap(elementsOf)];
    }
    default:
      throw new Error(`PartSink: column "${name}" has Arrow type ${type}, which cannot be written`);
  }
}

/** Values of rows `[offset, offset + length)` of a vector in the form hyparquet-writer takes. */
function columnValues(vector: Vector, type: DataType, offset: number, length: number): ArrayLike<unknown> {
  const noNulls = vector.nullCount === 0;
  if (type.typeId === Type.Int) {
    const { bitWidth, isSigned } = type as Int;
    const wide = bitWidth === 64 || (!isSigned && bitWidth === 32);
    const arr = vector.toArray() as ArrayLike<number | bigint>;
    if (noNulls && wide && arr instanceof BigInt64Array) return arr.subarray(offset, offset + length);
    if (noNulls && !wide && arr instanceof Int32Array) return arr.subarray(offset, offset + length);
    const out = new Array(length);
    for (let i = 0; i < length; i++) {
      const v = vector.isValid(offset + i) ? arr[offset + i] : null;
      out[i] = v == null ? null : wide ? BigInt(v) : Number(v);
    }
    return out;
  }
  if (type.typeId === Type.Struct) {
    const fields = (type as Struct).children;
    const kids = fields.map((f, j) => columnValues(vector.getChildAt(j)!, f.type, offset, length));
    const out = new Array(length);
    for (let i = 0; i < length; i++) {
      if (!vector.isValid(offset + i)) {
        out[i] = null;
        continue;
      }
      const row: Record<string, unknown> = {};
      fields.forEach((f, j) => (row[f.name] = kids[j][i]));
      out[i] = row;
    }
    return out;
  }
  const out = new Array(length);
  for (let i = 0; i < length; i++) out[i] = vector.get(offset + i) ?? null;
  return out;
}

function concatValues(pieces: ArrayLike<unknown>[], rows: number): ColumnSource['data'] {
  if (pieces.length === 1) return pieces[0] as ColumnSource['data'];
  const first = pieces[0];
  if (first instanceof BigInt64Array || first instanceof Int32Array) {
    if (pieces.every((p) => p.constructor === first.constructor)) {
      const out = new (first.constructor as BigInt64ArrayConstructor | Int32ArrayConstructor)(rows);
      let at = 0;
      for (const p of pieces) {
        out.set(p as never, at);
        at += p.length;
      }
      return out;
    }
  }
  const out: unknown[] = [];
  for (const p of pieces) for (let i = 0; i < p.length; i++) out.push(p[i]);
  return out as ColumnSource['data'];
}

function checkSameSchema(expected: Schema, got: Schema, dir: string): void {
  const sig = (s: Schema) => s.fields.map((f) => `${f.name}: ${f.type}${f.nullable ? '?' : ''}`).join(', ');
  if (sig(expected) !== sig(got)) {
    throw new Error(`PartSink ${dir}: batch schema changed within a part (${sig(got)} vs ${sig(expected)})`);
  }
}


/**
 * The protobuf wire format, just enough of it to write and skim ONNX files: varints,
 * 32-bit floats, length-delimited bytes, strings and nested messages. A writer keeps its
 * pieces as a list of chunks and nests other writers by reference, so a 45 MB weight blob
 * is copied once, in `finish`.
 */

/** Wire types of the protobuf encoding. */
export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_BYTES = 2;
export const WIRE_FIXED32 = 5;

const utf8 = new TextEncoder();

/**
 * Builds one protobuf message field by field (in the order called).
 *
 * @example
 *   const w = new ProtoWriter();
 *   w.string(1, 'key').string(2, 'value');
 *   const bytes = w.finish();
 */
export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private scratch: number[] = [];
  /** Bytes written so far. */
  length = 0;

  /** A varint field (int32, int64 up to 2^53, enum, bool). Negative values take 10 bytes. */
  varint(field: number, value: number): this {
    this.tag(field, WIRE_VARINT);
    this.rawVarint(value);
    return this;
  }

  /** A `float` field (fixed 32-bit, little-endian). */
  float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.flush();
    this.push(b);
    return this;
  }

  /** A `bytes` field. */
  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_BYTES);
    this.rawVarint(value.length);
    this.flush();
    this.push(value);
    return this;
  }

  /** A `string` field (UTF-8). */
  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }

  /** A packed `repeated int64/int32` field. */
  packedVarints(field: number, values: readonly number[]): this {
    const inner = new ProtoWriter();
    for (const v of values) inner.rawVarint(v);
    return this.message(field, inner);
  }

  /** A nested message field; `sub` is taken by reference and must not change afterwards. */
  message(field: number, sub: ProtoWriter): this {
    sub.flush();
    this.tag(field, WIRE_BYTES);
    this.rawVarint(sub.length);
    this.flush();
    for (const c of sub.chunks) this.push(c);
    return this;
  }

  /** The encoded message. */
  finish(): Uint8Array {
    this.flush();
    if (this.chunks.length === 1) return this.chunks[0];
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  private tag(field: number, wire: number): void {
    this.rawVarint(field * 8 + wire);
  }

  private rawVarint(value: number): void {
    if (!Number.isSafeInteger(value)) throw new Error(`protobuf varint must be a safe integer, got ${value}`);
    if (value < 0) {
      // two's complement over 64 bits, as protobuf encodes negative int64
      let v = BigInt.asUintN(64, BigInt(value));
      while (v >= 0x80n) {
        this.scratch.push(Number(v & 0x7fn) | 0x80);
        v >>= 7n;
      }
      this.scratch.push(Number(v));
      return;
    }
    let v = value;
    while (v >= 0x80) {
      this.scratch.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.scratch.push(v);
  }

  private flush(): void {
    if (this.scratch.length === 0) return;
    this.push(Uint8Array.from(this.scratch));
    this.scratch = [];
  }

  private push(c: Uint8Array): void {
    this.chunks.push(c);
    this.length += c.length;
  }
}

/** One field as read: varints and fixed values as numbers, length-delimited ones as bytes. */
export type ProtoField = { field: number; wire: typeof WIRE_VARINT | typeof WIRE_FIXED64 | typeof WIRE_FIXED32; value: number } | { field: number; wire: typeof WIRE_BYTES; value: Uint8Array };

/**
 * The top-level fields of a protobuf message, in order, without decoding nested messages
 * (their bytes are views into `bytes`, not copies). Varints beyond 2^53 lose precision.
 *
 * @example
 *   for (const f of readFields(bytes)) if (f.field === 14 && f.wire === WIRE_BYTES) entries.push(f.value);
 */
export function* readFields(bytes: Uint8Array): Generator<ProtoField> {
  let at = 0;
  const varint = (): number => {
    let result = 0;
    let mul = 1;
    for (;;) {
      if (at >= bytes.length) throw new Error('truncated protobuf varint');
      const b = bytes[at++];
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 0x80;
    }
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  while (at < bytes.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === WIRE_VARINT) yield { field, wire, value: varint() };
    else if (wire === WIRE_FIXED64) {
      if (at + 8 > bytes.length) throw new Error('truncated protobuf fixed64');
      yield { field, wire, value: view.getFloat64(at, true) };
      at += 8;
    } else if (wire === WIRE_FIXED32) {
      if (at + 4 > bytes.length) throw new Error('truncated protobuf fixed32');
      yield { field, wire, value: view.getFloat32(at, true) };
      at += 4;
    } else if (wire === WIRE_BYTES) {
      const n = varint();
      if (at + n > bytes.length) throw new Error(`protobuf field ${field} runs past the end (${n} bytes)`);
      yield { field, wire, value: bytes.subarray(at, at + n) };
      at += n;
    } else {
      throw new Error(`unsupported protobuf wire type ${wire} (field ${field})`);
    }
  }
}

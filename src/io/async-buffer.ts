import { open, stat } from 'node:fs/promises';
import type { AsyncBuffer } from 'hyparquet';
import { InputError } from '../errors.js';

/**
 * Random access to the bytes of one input, local or remote (hyparquet's `AsyncBuffer`),
 * plus `close()` to release what it holds (a file handle, sockets, a temp file).
 */
export interface InputBuffer extends AsyncBuffer {
  /** The input as the user named it, for messages. */
  readonly name: string;
  close(): Promise<void>;
}

/**
 * Opens a local file for random reads through one file handle.
 *
 * @example
 *   const buf = await fileBuffer('data/train.parquet');
 *   try { const tail = await buf.slice(buf.byteLength - 8); } finally { await buf.close(); }
 */
export async function fileBuffer(path: string, name: string = path): Promise<InputBuffer> {
  let handle;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new InputError(`${name}: not a file`);
    handle = await open(path, 'r');
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`${name}: cannot open (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
  const fh = handle;
  const { size } = await fh.stat();
  let closed = false;
  return {
    name,
    byteLength: size,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const stop = Math.min(end ?? size, size);
      const length = Math.max(0, stop - start);
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(out, done, length - done, start + done);
        if (bytesRead === 0) throw new InputError(`${name}: file shrank while reading (byte ${start + done} of ${size})`);
        done += bytesRead;
      }
      return out.buffer;
    },
    async close() {
      if (closed) return;
      closed = true;
      await fh.close();
    },
  };
}

/**
 * Serves slices of one prefetched byte range `[offset, offset + bytes.length)` of a file
 * from memory and everything else from the underlying buffer.
 *
 * @example
 *   const bytes = new Uint8Array(await buf.slice(100, 200));
 *   const view = rangeBuffer(buf, 100, bytes); // view.slice(120, 130) needs no I/O
 */
export function rangeBuffer(base: AsyncBuffer, offset: number, bytes: Uint8Array): AsyncBuffer {
  const end = offset + bytes.length;
  return {
    byteLength: base.byteLength,
    slice(start: number, stop?: number) {
      const s = stop ?? base.byteLength;
      if (start >= offset && s <= end) {
        return bytes.slice(start - offset, s - offset).buffer;
      }
      return base.slice(start, stop);
    },
  };
}

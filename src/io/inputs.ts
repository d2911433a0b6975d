import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { InputError } from '../errors.js';
import { expandGlob, isGlob } from './glob.js';
import { listParquetS3 } from './s3-list.js';
import { isS3Uri } from './s3-uri.js';
import { filesUnder } from './files-under.js';

/** True for `http://` and `https://` inputs. */
export function isUrl(spec: string): boolean {
  return /^https?:\/\//i.test(spec);
}

/**
 * Expands the inputs the user named into an ordered list of Parquet files and URLs:
 * a file stays as it is, a directory gives every `*.parquet` below it (sorted), a glob
 * (`*`, `?`, `**`) the files it matches (sorted), a URL stays as it is, an `s3://bucket/key`
 * stays as it is, an `s3://bucket/prefix/` (ending in `/`) gives every `*.parquet` object
 * under it (sorted by key), and `-` reads one path or URL per line from stdin (blank lines
 * and `#` comments skipped).
 * Repeated inputs are kept (each is read again).
 *
 * @example
 *   const inputs = await resolveInputs(['shards/', 'extra/*.parquet', 'https://host/x.parquet']);
 */
export async function resolveInputs(specs: string[], opts: { stdin?: NodeJS.ReadableStream } = {}): Promise<string[]> {
  const out: string[] = [];
  for (const spec of specs) {
    if (spec === '-') {
      const lines = createInterface({ input: opts.stdin ?? process.stdin, crlfDelay: Infinity });
      for await (const raw of lines) {
        const line = raw.trim();
        if (!line || line.startsWith('#')) continue;
        if (line === '-') throw new InputError('stdin: a line "-" cannot name stdin again');
        out.push(...(await resolveOne(line)));
      }
    } else {
      out.push(...(await resolveOne(spec)));
    }
  }
  if (out.length === 0) throw new InputError('no inputs given');
  return out;
}

async function resolveOne(spec: string): Promise<string[]> {
  if (isUrl(spec)) return [spec];
  if (isS3Uri(spec)) {
    if (!spec.endsWith('/')) return [spec];
    const objects = await listParquetS3(spec);
    if (objects.length === 0) throw new InputError(`${spec}: no .parquet objects under this prefix`);
    return objects;
  }
  if (isGlob(spec)) {
    const files = await expandGlob(spec);
    if (files.length === 0) throw new InputError(`${spec}: no files match`);
    return files;
  }
  let info;
  try {
    info = await stat(spec);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(code === 'ENOENT' ? `${spec}: no such file or directory` : `${spec}: cannot read (${code})`, { cause: err });
  }
  if (!info.isDirectory()) return [spec];
  const files = await parquetFilesUnder(spec);
  if (files.length === 0) throw new InputError(`${spec}: no .parquet files in this directory`);
  return files;
}

async function parquetFilesUnder(dir: string): Promise<string[]> {
  return (await filesUnder(dir)).filter((f) => f.endsWith('.parquet'));
}

/**
 * Sources and sinks of the pipeline: Parquet files, directories, globs, URLs, s3:// objects and stdin
 * lists in; Arrow record batches through; rolling, atomically committed Parquet parts out.
 *
 * @example
 *   import { resolveInputs, readBatches, PartSink } from './io/index.js';
 *   const sink = await PartSink.open('out');
 *   for await (const batch of readBatches(await resolveInputs(['data/']))) await sink.write(batch);
 *   await sink.close();
 */
export { DEFAULT_COLUMNS, imageBytesAt, imageBytesOf, resolveColumns, isImageType, imageColumnOf, type Columns, type ColumnsOption } from './columns.js';
export { fileBuffer, type InputBuffer } from './async-buffer.js';
export { httpBuffer, type HttpOptions } from './http-buffer.js';
export { resolveInputs, isUrl } from './inputs.js';
export { s3Buffer } from './s3-buffer.js';
export { setS3Endpoint } from './s3-client.js';
export { isS3Uri, parseS3Uri } from './s3-uri.js';
export { expandGlob, globToRegExp } from './glob.js';
export { readChunks, readBatches, countRows, type Chunk, type ReadOptions } from './read.js';
export { PartSink, partName, parquetSchemaOf, type PartSinkOptions } from './part-sink.js';
export { buildData, makeBatch, withColumns } from './arrow-data.js';

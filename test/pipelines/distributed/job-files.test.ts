import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { commitManifest, dirJobFiles, doneManifest, readCommitted, s3JobFiles, type JobFiles } from '../../../pipelines/distributed/job-files.js';
import { setS3Endpoint } from '../../../src/io/s3-client.js';
import { copyS3 } from '../../../src/io/s3-copy.js';
import { downloadS3 } from '../../../src/io/s3-download.js';
import { tempDir } from '../fixture.js';
import { TestS3 } from '../../io/s3-fixture.js';

const policy = { retries: 2, retryDelayMs: 10, timeoutMs: 10_000 };

/**
 * The job files of a distributed run on a shared directory and in an s3:// work area (s3rver on
 * 127.0.0.1), with the same assertions: what a job commits is what another machine reads, a
 * directory commits file by file, and a job is done only when its manifest is committed.
 */
describe('job files', () => {
  let root: string;
  let s3: TestS3;

  beforeAll(async () => {
    root = await tempDir('job-files');
    s3 = await TestS3.start(['lake']);
    setS3Endpoint(s3.endpoint);
  });

  afterAll(async () => {
    setS3Endpoint(undefined);
    await s3?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  /** The machine that writes and another that reads, on each kind of storage. */
  const STORES = [
    { name: 'a shared directory', open: (): [JobFiles, JobFiles] => [dirJobFiles(join(root, 'shared')), dirJobFiles(join(root, 'shared'))] },
    { name: 's3', open: (): [JobFiles, JobFiles] => [s3JobFiles(join(root, 'stage-a'), 's3://lake/out/_work/r1/', policy), s3JobFiles(join(root, 'stage-b'), 's3://lake/out/_work/r1/', policy)] },
  ];

  it.each(STORES)('on $name: data then manifest; a written but uncommitted manifest is not done', async ({ open }) => {
    const [writer, reader] = open();
    const jobs = (f: JobFiles) => join(f.root, 'work', 'jobs');
    await mkdir(join(jobs(writer), 'fit-00001', 'inner'), { recursive: true });
    await writeFile(join(jobs(writer), 'embed-00000.f32'), Buffer.from([1, 2, 3, 4]));
    await writeFile(join(jobs(writer), 'fit-00001', 'a.bin'), 'flow');
    await writeFile(join(jobs(writer), 'fit-00001', 'inner', 'b.json'), '{"b":1}');
    // the manifest written on the writer's disk, not committed: not done anywhere
    await writeFile(join(jobs(writer), 'embed-00000.json'), '{"rows":1}');
    const shared = writer.root === reader.root;
    expect(await doneManifest(writer, join(jobs(writer), 'embed-00000.json'))).toEqual(shared ? { rows: 1 } : null);
    expect(await doneManifest(reader, join(jobs(reader), 'embed-00000.json'))).toEqual(shared ? { rows: 1 } : null);
    await writer.publish(join(jobs(writer), 'embed-00000.f32'));
    await writer.publish(join(jobs(writer), 'fit-00001'));
    await commitManifest(writer, join(jobs(writer), 'embed-00000.json'), { rows: 4 });
    expect(await doneManifest(reader, join(jobs(reader), 'embed-00000.json'))).toEqual({ rows: 4 });
    expect(await reader.fetch(join(jobs(reader), 'embed-00000.f32'))).toBe(true);
    expect([...(await readFile(join(jobs(reader), 'embed-00000.f32')))]).toEqual([1, 2, 3, 4]);
    expect(await reader.fetchTree(join(jobs(reader), 'fit-00001'))).toBe(true);
    expect(await readFile(join(jobs(reader), 'fit-00001', 'inner', 'b.json'), 'utf8')).toBe('{"b":1}');
    expect(await reader.list(join(jobs(reader), 'fit-00001'))).toEqual(shared ? ['a.bin', 'inner'] : ['a.bin']);
    expect(await reader.fetch(join(jobs(reader), 'score-00000.f32'))).toBe(false);
    expect(await readCommitted(reader, join(jobs(reader), 'merge.json'))).toBeNull();
    expect(await reader.fetchTree(join(jobs(reader), 'fit-00002'))).toBe(false);
  });

  it('downloads only whole objects, says false for a missing one, and copies inside the store', async () => {
    await s3.put('lake', 'x/a.bin', Buffer.alloc(100_000, 7));
    const path = join(root, 'dl', 'a.bin');
    expect(await downloadS3('s3://lake/x/missing.bin', path, policy)).toBe(false);
    expect(existsSync(path)).toBe(false);
    expect(await downloadS3('s3://lake/x/a.bin', path, policy)).toBe(true);
    expect((await readFile(path)).equals(Buffer.alloc(100_000, 7))).toBe(true);
    await copyS3('s3://lake/x/a.bin', 's3://lake/y/part 1.bin', policy);
    expect((await s3.get('lake', 'y/part 1.bin')).equals(Buffer.alloc(100_000, 7))).toBe(true);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { writeSyntheticDataset } from '../../pipelines/synthetic-data.js';
import { cliBuilt, runCli, tempDir } from './fixture.js';

const NAMES = ['ring', 'cross', 'stripes', 'dots', 'square', 'diag', 'grid', 'blob', 'wave', 'frame'];
const HF_META = JSON.stringify({
  info: { features: { img: { _type: 'Image' }, label: { names: NAMES, _type: 'ClassLabel' } } },
});

/**
 * A Hugging Face `datasets`-style file written by another writer (DuckDB): the image as a
 * `{bytes, path}` struct in a column named `img`, an INT64 `label`, no id column, and the
 * `huggingface` key-value metadata with ClassLabel names. gssd needs no column flag for it,
 * and its outputs keep the file's schema and metadata (DuckDB reads them back).
 */
describe.skipIf(!cliBuilt())('Hugging Face datasets Parquet, written by DuckDB', () => {
  let root: string;
  let hf: string;
  let db: DuckDBConnection;
  const query = async (sql: string) => (await db.runAndReadAll(sql)).getRowsJS();

  beforeAll(async () => {
    root = await tempDir('hf');
    await writeSyntheticDataset(join(root, 'src'), { rows: 300, seed: 9 });
    db = await (await DuckDBInstance.create(':memory:')).connect();
    hf = join(root, 'train-00000-of-00001.parquet');
    await db.run(`COPY (SELECT {'bytes': image, 'path': NULL::VARCHAR} AS img, label::BIGINT AS label FROM read_parquet('${root}/src/*.parquet'))
      TO '${hf}' (FORMAT PARQUET, KV_METADATA {huggingface: '${HF_META.replace(/'/g, "''")}'})`);
    expect(await query(`SELECT typeof(img), typeof(label), count(*)::INT FROM read_parquet('${hf}') GROUP BY ALL`)).toEqual([['STRUCT(bytes BLOB, path VARCHAR)', 'BIGINT', 300]]);
  }, 60_000);

  afterAll(async () => {
    db?.closeSync();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('pretrains and cleanses with no flags; the outputs keep the input schema, metadata and class names', async () => {
    const enc = await runCli(['pretrain', hf, '--out', join(root, 'enc'), '--epochs', '1', '--width', '4', '--batch', '64', '--threads', '1']);
    expect(enc.code, enc.stderr).toBe(0);
    const out = join(root, 'run');
    const r = await runCli(['cleanse', hf, '--encoder', join(root, 'enc', 'encoder'), '--flow-epochs', '2', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("classes (from the input's metadata): 0 ring, 1 cross, 2 stripes");

    const parts = `'${out}/*/part-*.parquet'`;
    const columns = await query(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(${parts}))`);
    expect(columns.map(([name]) => name)).toEqual(['img', 'label', 'gssd_split', 'gssd_score', 'gssd_loglik', 'gssd_pred', 'gssd_label', 'gssd_reason', 'gssd_row']);
    expect(Object.fromEntries(columns)).toMatchObject({ img: 'STRUCT(bytes BLOB, path VARCHAR)', label: 'BIGINT', gssd_row: 'BIGINT' });
    // every input row once, located by gssd_row, with its own label and image
    const joined = await query(`SELECT count(*)::INT, count(DISTINCT o.gssd_row)::INT, count(*) FILTER (o.label = i.label AND o.img.bytes = i.img.bytes)::INT
      FROM read_parquet(${parts}) o JOIN (SELECT *, (row_number() OVER () - 1) AS r FROM read_parquet('${hf}')) i ON o.gssd_row = i.r`);
    expect(joined).toEqual([[300, 300, 300]]);
    const kv = await query(`SELECT DISTINCT decode(key), decode(value) FROM parquet_kv_metadata(${parts}) WHERE decode(key) = 'huggingface'`);
    expect(kv).toEqual([['huggingface', HF_META]]);

    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
    expect(report.classNames).toEqual(NAMES);
    expect(await readFile(join(out, 'report.html'), 'utf8')).toContain('class 3 (dots)');
  }, 180_000);

  it('trains a classifier on it and poisons it with no flags (the image struct found by type, kept as a struct)', async () => {
    const model = join(root, 'model');
    const t = await runCli(['train', hf, '--out', model, '--epochs', '1', '--width', '4', '--batch', '64', '--threads', '1']);
    expect(t.code, t.stderr).toBe(0);
    expect(JSON.parse(await readFile(join(model, 'model', 'manifest.json'), 'utf8')).kind).toBe('classifier');
    const poisoned = join(root, 'poisoned');
    const p = await runCli(['poison', hf, '--attack', 'badnets', '--rate', '0.1', '--target', '0', '--out', poisoned]);
    expect(p.code, p.stderr).toBe(0);
    const columns = await query(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('${poisoned}/data/*.parquet'))`);
    expect(Object.fromEntries(columns)).toMatchObject({ img: 'STRUCT(bytes BLOB, path VARCHAR)' });
    const [[rows, changed]] = await query(`SELECT count(*)::INT, count(*) FILTER (o.img.bytes <> i.img.bytes)::INT
      FROM (SELECT *, row_number() OVER () AS r FROM read_parquet('${poisoned}/data/*.parquet')) o JOIN (SELECT *, row_number() OVER () AS r FROM read_parquet('${hf}')) i ON o.r = i.r`);
    expect(rows).toBe(300);
    expect(changed).toBeGreaterThan(0);
  }, 180_000);
});

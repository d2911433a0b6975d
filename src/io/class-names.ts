/**
 * Class names from a Parquet file's key-value metadata: Hugging Face `datasets` writes its
 * features under the `huggingface` key, a `ClassLabel` feature with the names in label order;
 * else a `label_names` JSON array (as in gssd's own and the shared CIFAR-10 files).
 *
 * @example
 *   classNamesOf({ huggingface: '{"info":{"features":{"label":{"names":["cat","dog"],"_type":"ClassLabel"}}}}' }, 'label');   // ['cat', 'dog']
 */
export function classNamesOf(metadata: Record<string, string>, labelColumn: string): string[] | null {
  const text = metadata.huggingface;
  if (!text) return plainNames(metadata.label_names);
  try {
    const features = (JSON.parse(text) as { info?: { features?: Record<string, unknown> } }).info?.features;
    const label = features?.[labelColumn] as { _type?: string; names?: unknown } | undefined;
    if (label?._type !== 'ClassLabel' || !Array.isArray(label.names)) return null;
    return label.names.every((n) => typeof n === 'string') ? (label.names as string[]) : null;
  } catch {
    return null;
  }
}

/**
 * How a class is named in reports: `class 3 (cat)` when its name is known, else `class 3`.
 *
 * @example
 *   classTitle(3, ['a', 'b', 'c', 'cat']);   // 'class 3 (cat)'
 */
export function classTitle(label: number, names: readonly string[] | null | undefined): string {
  const name = names?.[label];
  return name === undefined ? `class ${label}` : `class ${label} (${name})`;
}

function plainNames(text: string | undefined): string[] | null {
  if (!text) return null;
  try {
    const names = JSON.parse(text) as unknown;
    return Array.isArray(names) && names.every((n) => typeof n === 'string') ? (names as string[]) : null;
  } catch {
    return null;
  }
}

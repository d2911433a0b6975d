import { readdir, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';

/** True when `text` holds a glob wildcard (`*` or `?`). */
export function isGlob(text: string): boolean {
  return /[*?]/.test(text);
}

/**
 * A RegExp for a glob over `/`-separated paths: `*` matches within one path segment,
 * `?` one character of a segment, and a `**` segment any number of segments.
 *
 * @example
 *   globToRegExp('data/**\/train-*.parquet').test('data/a/b/train-0.parquet'); // true
 */
export function globToRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        const atStart = i === 0 || pattern[i - 1] === '/';
        const slashAfter = pattern[i + 2] === '/';
        if (atStart && slashAfter) {
          out += '(?:[^/]*/)*';
          i += 2;
        } else {
          out += '.*';
          i += 1;
        }
      } else {
        out += '[^/]*';
      }
    } else if (c === '?') {
      out += '[^/]';
    } else {
      out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${out}$`);
}

/**
 * The files matching a glob, sorted. The walk starts at the longest leading part of the
 * pattern without wildcards and only descends as deep as the pattern can match.
 *
 * @example
 *   const shards = await expandGlob('../data/cifar10/train-*.parquet');
 */
export async function expandGlob(pattern: string): Promise<string[]> {
  const normalized = sep === '/' ? pattern : pattern.split(sep).join('/');
  const parts = normalized.split('/');
  const firstWild = parts.findIndex(isGlob);
  const baseParts = parts.slice(0, firstWild);
  const base = baseParts.length === 0 ? '.' : baseParts.join('/') || '/';
  const rest = parts.slice(firstWild);
  const deep = rest.includes('**') || rest.some((p) => p.includes('**'));
  const maxDepth = deep ? Infinity : rest.length;
  const matcher = globToRegExp(rest.join('/'));
  const found: string[] = [];

  async function walk(dir: string, rel: string, depth: number): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const relPath = rel ? `${rel}/${entry.name}` : entry.name;
      const full = join(dir, entry.name);
      if (entry.isDirectory() || (entry.isSymbolicLink() && (await isDir(full)))) {
        if (depth + 1 < maxDepth) await walk(full, relPath, depth + 1);
      } else if (matcher.test(relPath)) {
        found.push(baseParts.length === 0 ? relPath : `${base === '/' ? '' : base}/${relPath}`);
      }
    }
  }
  await walk(base, '', 0);
  return found.sort();
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

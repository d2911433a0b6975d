/**
 * The value after `--name` on the command line, or `fallback`: the benches' flag reader.
 *
 * @example
 *   const width = Number(arg('width', '16'));
 */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

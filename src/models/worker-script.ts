/**
 * Where the compiled JavaScript of a worker-thread entry module is. From the build
 * (`dist/src/...` or `.bench-build/src/...`) it sits next to the module asking; when that
 * module runs from TypeScript source (vitest), the entry is taken from `dist/` of the same
 * checkout, which `npm test` builds first.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, relative } from 'node:path';

/**
 * The path of the compiled worker entry `name` (e.g. `flow-worker.js`) beside the module at
 * `moduleUrl`, or a clear error when it has not been built.
 *
 * @example
 *   const worker = new Worker(workerScript(import.meta.url, 'flow-worker.js'), { workerData });
 */
export function workerScript(moduleUrl: string, name: string): string {
  const here = dirname(fileURLToPath(moduleUrl));
  const beside = join(here, name);
  if (existsSync(beside)) return beside;
  // running from source: <root>/src/models/x.ts -> <root>/dist/src/models/name
  let root = here;
  while (!existsSync(join(root, 'package.json')) && dirname(root) !== root) root = dirname(root);
  const built = join(root, 'dist', relative(root, here), name);
  if (existsSync(built)) return built;
  throw new Error(`worker script ${name} not found beside ${here} nor at ${built}: run \`npm run build\` first`);
}

import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from '../io/helpers.js';

const run = promisify(execFile);
const SESSION = resolve('dist/src/models/onnx-session.js');
const GRAPH = resolve('dist/src/models/onnx-graph.js');
const built = existsSync(SESSION) && existsSync(GRAPH);
if (!built) console.log('[skip] dist/ is not built: the ONNX Runtime telemetry test is skipped (npm test builds it)');

/** Environment variables that make onnxruntime skip telemetry by itself (CI detection) or switch it. */
const QUIET_VARS = [
  'CI', 'TF_BUILD', 'GITHUB_ACTIONS', 'GITLAB_CI', 'CIRCLECI', 'TRAVIS', 'JENKINS_URL', 'CODEBUILD_BUILD_ID', 'BUILDKITE',
  'TEAMCITY_VERSION', 'APPVEYOR', 'BITBUCKET_BUILD_NUMBER', 'SYSTEM_TEAMFOUNDATIONCOLLECTIONURI', 'ORT_RUNNING_UNIT_TESTS',
  'ORT_DISABLE_TELEMETRY', 'ORT_TELEMETRY_DISABLED',
];

/** Runs one tiny ONNX graph in a fresh process with HOME and TMPDIR in `root`; lists every file left there. */
async function filesAfterSession(root: string, viaGssd: boolean): Promise<string[]> {
  const home = join(root, 'home');
  const tmp = join(root, 'tmp');
  await mkdir(home, { recursive: true });
  await mkdir(tmp, { recursive: true });
  const open = viaGssd
    ? `const { openOnnxSession } = await import(${JSON.stringify(SESSION)});
       const { session } = await openOnnxSession(bytes, 'cpu', 1, 'relu');`
    : `const session = await ort.InferenceSession.create(bytes);`;
  const script = `
    import * as ort from 'onnxruntime-node';
    const { OnnxGraph } = await import(${JSON.stringify(GRAPH)});
    const g = new OnnxGraph();
    const x = g.input('x', [2, 3]);
    g.output('y', g.op('Relu', [x], x.shape));
    const bytes = g.encode('relu');
    ${open}
    const out = await session.run({ x: new ort.Tensor('float32', new Float32Array(6).fill(-1), [2, 3]) });
    if (out.y.data[0] !== 0) throw new Error('wrong output');
    await session.release();`;
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, TMPDIR: tmp, XDG_CACHE_HOME: join(home, '.cache') };
  for (const name of QUIET_VARS) delete env[name];
  await run(process.execPath, ['--input-type=module', '-e', script], { env, cwd: resolve('.') });
  const files: string[] = [];
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) files.push(relative(root, join(entry.parentPath, entry.name)));
  }
  return files.sort();
}

describe.skipIf(!built)('ONNX Runtime sessions opened by gssd', () => {
  it('leave no telemetry queue, device id or log under HOME or TMPDIR (a bare onnxruntime session does)', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      // the control: onnxruntime-node on its own writes its telemetry files, so this test can see them
      const bare = await filesAfterSession(join(dir, 'bare'), false);
      expect(bare).toContain(join('home', '.cache', 'Microsoft', 'DeveloperTools', '.onnxruntime', 'onnxruntime.db'));
      // through gssd: nothing at all
      expect(await filesAfterSession(join(dir, 'gssd'), true)).toEqual([]);
    } finally {
      await cleanup();
    }
  });
});

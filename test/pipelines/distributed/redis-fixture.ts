import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** redis-server is installed (CI installs it with apt-get); tests that need it skip otherwise. */
export function redisInstalled(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0;
}

/**
 * A redis-server of a test (and of bench:distributed): 127.0.0.1, a free port, in a temp
 * directory; AOF on with fsync always (so a restart keeps the data), or no persistence at all.
 */
export class TestRedis {
  private child: ChildProcess | null = null;

  private constructor(readonly port: number, readonly dir: string, private readonly aof: boolean) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /**
   * @example
   *   const redis = await TestRedis.start({ aof: false }); // ... redis.url ...; await redis.stop();
   */
  static async start(options: { aof?: boolean } = {}): Promise<TestRedis> {
    const r = new TestRedis(await freePort(), await mkdtemp(join(tmpdir(), 'gssd-redis-')), options.aof ?? true);
    await r.up();
    return r;
  }

  /** Starts the server (again, on the same port and files: the AOF brings the data back). */
  async up(): Promise<void> {
    const persistence = this.aof ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, ...persistence, '--save', '', '--daemonize', 'no'];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('Ready to accept connections')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out.slice(-500)}`)));
    });
  }

  /** Stops the server (SIGTERM: it finishes writing the AOF). */
  async down(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    this.child = null;
    child.kill('SIGTERM');
    await once(child, 'exit');
  }

  async stop(): Promise<void> {
    await this.down();
    await rm(this.dir, { recursive: true, force: true });
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

// A minimal server with only the image routes over a real core, for the image tests and benchmarks. Runs
// in-process (startImageServer) or as a child process (spawnImageServer), which prints {"url": ...} on its first
// stdout line and closes gracefully on SIGTERM — so its memory can be measured on its own.
import Fastify, { type FastifyInstance } from 'fastify';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createCore, type Core } from '../../../core/index.js';
import { openDatabase } from '../../../db/database.js';
import { installErrorHandling } from '../../http/error-handler.js';
import { registerImageDownloadRoute, type ImageDownloads } from '../image-download.route.js';
import { registerImageUploadRoute } from '../../management/image-upload.route.js';

export interface ImageServerOptions {
  dataDir: string;
  maxBytes?: number;
  logLevel?: string;
  shutdownGraceMs?: number;
  idleTimeoutMs?: number;
}

export interface ImageServer {
  url: string;
  app: FastifyInstance;
  core: Core;
  downloads: ImageDownloads;
  bytesServed(): number;
  close(): Promise<void>;
}

export async function startImageServer(options: ImageServerOptions): Promise<ImageServer> {
  const db = openDatabase(join(options.dataDir, 'pitcrew.db'));
  const core = createCore({ db, imagesDir: join(options.dataDir, 'images') });
  await core.imageStore.removeIncomplete();
  const app = Fastify({ logger: { level: options.logLevel ?? 'silent' }, forceCloseConnections: 'idle' });
  installErrorHandling(app);
  let served = 0;
  const downloads = registerImageDownloadRoute(app, {
    images: core.images,
    onBytesServed: (bytes) => (served += bytes),
    ...(options.shutdownGraceMs !== undefined ? { shutdownGraceMs: options.shutdownGraceMs } : {}),
    ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
  });
  registerImageUploadRoute(app, { images: core.images, maxBytes: options.maxBytes ?? 64 * 2 ** 30 });
  app.addHook('onClose', async () => void db.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no TCP address');
  return { url: `http://127.0.0.1:${address.port}`, app, core, downloads, bytesServed: () => served, close: () => app.close() };
}

export interface ChildImageServer {
  url: string;
  child: ChildProcess;
  /** SIGTERM, then wait for the exit. */
  stop(): Promise<void>;
}

const SELF = fileURLToPath(import.meta.url);
const ROOT = join(SELF, '../../../../..');

/**
 * This file bundled to plain JavaScript (esbuild, dependencies left external) so the child runs on bare Node: a
 * TypeScript loader would add its own worker thread and tens of MiB to the memory being measured.
 */
async function bundleSelf(): Promise<string> {
  const { build } = await import('esbuild');
  const dir = join(ROOT, 'node_modules', '.cache', 'pitcrew', `image-server-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(dir, { recursive: true });
  // The migrations are found beside the code that runs them.
  await symlink(join(ROOT, 'src', 'db', 'migrations'), join(dir, 'migrations'));
  const outfile = join(dir, 'image-server.mjs');
  await build({ entryPoints: [SELF], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'error' });
  return outfile;
}

/**
 * Starts the image server in its own Node process, optionally wrapped by `wrapper` (a command and arguments that
 * end by running the given command, e.g. `unshare … sh -c '… exec "$@"'`).
 */
export async function spawnImageServer(options: ImageServerOptions, wrapper: string[] = []): Promise<ChildImageServer> {
  const script = await bundleSelf();
  const command = [process.execPath, script, JSON.stringify(options)];
  const [program, ...args] = [...wrapper, ...command];
  const child = spawn(program!, args, { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`image server exited early (${code})`)));
    lines.once('line', (line) => resolve((JSON.parse(line) as { url: string }).url));
  }).finally(() => rm(dirname(script), { recursive: true, force: true }));
  return {
    url,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const options = JSON.parse(process.argv[2] ?? '{}') as ImageServerOptions;
  const server = await startImageServer(options);
  process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
}

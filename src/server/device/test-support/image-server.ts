// The real Pitcrew server in its own Node process, for the image tests that measure its memory (or run it in a
// private mount namespace) and for the image benchmarks. The child prints its two listening addresses as JSON on
// its first stdout line and shuts down gracefully on SIGTERM; the parent logs in as admin for uploads.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadConfig, type ServerConfig } from '../../config.js';
import { startServer } from '../../main.js';

export type ConfigOverrides = Partial<Record<keyof ServerConfig, string | number | null | string[]>>;

export interface ChildServer {
  managementUrl: string;
  deviceUrl: string;
  child: ChildProcess;
  /** `cookie` header value of a logged-in admin session. */
  cookie: string;
  /** Every line the server wrote to stdout (its JSON log lines among them), as they arrive. */
  output: string[];
  /** Whether it runs the built dist/ (else the sources through tsx, which adds a loader thread to its memory). */
  built: boolean;
  /** SIGTERM, then wait for the exit. */
  stop(): Promise<void>;
}

const SELF = fileURLToPath(import.meta.url);
const ROOT = join(SELF, '../../../../..');
const ADMIN_PASSWORD = 'image-tests-admin-1';
const BUILT_MAIN = join(ROOT, 'dist', 'server', 'main.js');

/** True when dist/ (built by `npm test` before the tests run) is newer than every source file of the server. */
function builtServerIsFresh(): boolean {
  if (!existsSync(BUILT_MAIN)) return false;
  const built = statSync(BUILT_MAIN).mtimeMs;
  return readdirSync(join(ROOT, 'src'), { recursive: true })
    .map(String)
    .filter((file) => /\.(ts|js)$/.test(file) && !file.endsWith('.test.ts') && !file.includes('test-support'))
    .every((file) => statSync(join(ROOT, 'src', file)).mtimeMs <= built);
}

/**
 * How to run the server: the built JavaScript when it is up to date — as in production, and without a TypeScript
 * loader's extra worker thread and tens of MiB in the memory being measured — else the sources through tsx.
 */
function serverCommand(): { args: string[]; built: boolean } {
  if (builtServerIsFresh()) {
    const script = [
      `const { startServer } = await import(${JSON.stringify(pathToFileURL(BUILT_MAIN).href)});`,
      `const { loadConfig } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'server', 'config.js')).href)});`,
      `const running = await startServer(loadConfig({}, JSON.parse(process.env.PITCREW_TEST_OVERRIDES)), { handleSignals: true, announce: () => {} });`,
      'process.stdout.write(JSON.stringify(running.addresses) + "\\n");',
    ].join('\n');
    return { args: ['--input-type=module', '-e', script], built: true };
  }
  return { args: ['--import', 'tsx', SELF], built: false };
}

/**
 * Starts the server with `overrides` (dataDir at least) in its own process on ephemeral loopback ports, optionally
 * wrapped by `wrapper` (a command and arguments that end by running the given command, e.g.
 * `unshare … sh -c '… exec "$@"' sh`).
 */
export async function spawnServer(overrides: ConfigOverrides, wrapper: string[] = []): Promise<ChildServer> {
  const settings: ConfigOverrides = { port: 0, devicePort: 0, host: '127.0.0.1', deviceHost: '127.0.0.1', logLevel: 'warn', adminPassword: ADMIN_PASSWORD, ...overrides };
  const { args, built } = serverCommand();
  const [program, ...rest] = [...wrapper, process.execPath, ...args];
  const child = spawn(program!, rest, { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT, env: { ...process.env, PITCREW_TEST_OVERRIDES: JSON.stringify(settings) } });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout });
  const output: string[] = [];
  lines.on('line', (line) => output.push(line));
  const addresses = await new Promise<{ management: string; device: string }>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the server exited early (${code})`)));
    // Log lines may come first (the logger writes to stdout too); the addresses are the line with both URLs.
    lines.on('line', (line) => {
      if (!line.startsWith('{"management"')) return;
      resolve(JSON.parse(line) as { management: string; device: string });
    });
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  try {
    const login = await fetch(`${addresses.management}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
    });
    const cookie = login.headers.getSetCookie().find((value) => value.startsWith('pitcrew_session='))?.split(';')[0];
    if (login.status !== 200 || !cookie) throw new Error(`admin login failed: ${login.status} ${await login.text()}`);
    return { managementUrl: addresses.management, deviceUrl: addresses.device, child, cookie, output, built, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const overrides = JSON.parse(process.env.PITCREW_TEST_OVERRIDES ?? '{}') as ConfigOverrides;
  const running = await startServer(loadConfig({}, overrides), { handleSignals: true, announce: () => {} });
  process.stdout.write(`${JSON.stringify(running.addresses)}\n`);
}

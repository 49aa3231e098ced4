// Starts the real Pitcrew server (both listeners, real SQLite, the built web UI) on loopback ephemeral ports with
// a throw-away data directory. `restart()` stops it and starts it again on the same ports and data, as an
// operator's upgrade would, so tests can watch the dashboard recover.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../../src/server/config.js';
import { startServer, type RunningServer } from '../../../src/server/main.js';
import type { BuildOptions } from '../../../src/server/build-app.js';

export const ADMIN_PASSWORD = 'pit-lane-admin-2024';
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const WEB_DIR = join(repoRoot, 'dist/web');

export interface E2eServer {
  managementUrl: string;
  deviceUrl: string;
  dataDir: string;
  running: RunningServer;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const portOf = (url: string) => Number(new URL(url).port);

export interface E2eOptions extends Pick<BuildOptions, 'now' | 'webhookDelivery'> {
  /** The upload limit, when a test needs one it can reach. */
  maxImageBytes?: number;
}

export async function startE2eServer({ maxImageBytes, ...options }: E2eOptions = {}): Promise<E2eServer> {
  if (!existsSync(join(WEB_DIR, 'index.html'))) {
    throw new Error(`The web UI is not built (${WEB_DIR}/index.html is missing): run \`npm run build\` first.`);
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'pitcrew-e2e-'));
  const configFor = (port: number, devicePort: number) =>
    loadConfig({}, {
      dataDir,
      port,
      devicePort,
      host: '127.0.0.1',
      deviceHost: '127.0.0.1',
      adminPassword: ADMIN_PASSWORD,
      logLevel: 'silent',
      webDir: WEB_DIR,
      shutdownGraceSeconds: 2,
      // Many logins happen from one address during a test run.
      loginAttemptsPerMinute: 1000,
      ...(maxImageBytes !== undefined ? { maxImageBytes } : {}),
    });
  const start = (port: number, devicePort: number) =>
    startServer(configFor(port, devicePort), { ...options, handleSignals: false, announce: () => undefined });

  let running = await start(0, 0);
  const harness: E2eServer = {
    managementUrl: running.addresses.management,
    deviceUrl: running.addresses.device,
    dataDir,
    running,
    async restart() {
      await running.stop();
      running = await start(portOf(harness.managementUrl), portOf(harness.deviceUrl));
      harness.running = running;
    },
    async stop() {
      await running.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return harness;
}

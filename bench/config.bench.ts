// /api/config and /api/status requests per second against the full server in its own process, driven by autocannon
// in a third process (so the figures are the server's, not a client's sharing its CPU): new devices (each one a
// hostname assignment, a deployment record and events), devices asking again (the idempotent path), status
// reports, and /health as the framework's own ceiling. Then a fleet of N devices reporting once a second, each on
// its own connection, as the dashboard's live view needs them: does the server keep that pace, and how fast.
import { execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { LoadJob, LoadResult } from './config-load.js';
import { envNumber, ratio, row, tempDir } from './support.js';

const run = promisify(execFile);
const CONNECTIONS = 16;

async function startServer(dataDir: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const entry = fileURLToPath(new URL('./config-server.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', entry, JSON.stringify({ dataDir })], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`bench server exited (${code})`)));
  });
  const { device } = JSON.parse(line) as { device: string };
  return {
    url: device,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** One autocannon run in its own process. */
async function load(job: LoadJob): Promise<LoadResult> {
  const entry = fileURLToPath(new URL('./config-load.ts', import.meta.url));
  const { stdout } = await run(process.execPath, ['--import', 'tsx', entry, JSON.stringify(job)], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout) as LoadResult;
}

const perSecond = (result: LoadResult) => `${Math.round(result.perSecond)}/s`;
const latency = (result: LoadResult) => `p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms, max ${result.latencyMs.max} ms`;

export default async function benchConfig(): Promise<void> {
  const count = Math.min(envNumber('PITCREW_BENCH_CONFIG_REQUESTS', 3000), 9000);
  const fleet = Math.min(envNumber('PITCREW_BENCH_FLEET_DEVICES', 200), 9000);
  const fleetSeconds = envNumber('PITCREW_BENCH_FLEET_SECONDS', 10);
  const temp = tempDir('config');
  const server = await startServer(temp.dir);
  try {
    console.log(`  full server and autocannon in separate processes, ${CONNECTIONS} connections, ${count} requests per figure`);
    const health = await load({ url: server.url, scenario: 'health', connections: CONNECTIONS, amount: count });
    const fresh = await load({ url: server.url, scenario: 'config-new', connections: CONNECTIONS, amount: count });
    const known = Math.max(fresh.ok, 1);
    const again = await load({ url: server.url, scenario: 'config-again', connections: CONNECTIONS, amount: count, knownDevices: known });
    const status = await load({ url: server.url, scenario: 'status', connections: CONNECTIONS, amount: count, knownDevices: known });
    row('GET /health', perSecond(health), latency(health));
    row('POST /api/config, new devices (KXP2 pool)', perSecond(fresh), `${ratio(fresh.perSecond, health.perSecond, '/health')}; ${latency(fresh)}`);
    row('POST /api/config, devices asking again', perSecond(again), `${ratio(again.perSecond, health.perSecond, '/health')}; ${latency(again)}`);
    row('POST /api/status progress reports', perSecond(status), `${ratio(status.perSecond, health.perSecond, '/health')}; ${latency(status)}`);
    console.log(`  status reports at full speed would carry a fleet of ${Math.floor(status.perSecond)} devices each reporting once a second`);

    // The fleet's own pace: N connections (one per device), N reports a second between them.
    const paced = await load({ url: server.url, scenario: 'status', connections: fleet, rate: fleet, seconds: fleetSeconds, knownDevices: known });
    // autocannon lets each connection's first request go at once, so a short run can exceed the pace a little.
    const verdict = paced.perSecond >= 0.95 * fleet ? 'kept the pace' : 'fell behind';
    row(`${fleet} devices at 1 Hz (${fleet} reports/s needed)`, perSecond(paced), `${verdict}; ${latency(paced)}`);

    const failures = [health, fresh, again, status, paced].reduce((sum, r) => sum + r.failed + r.errors, 0);
    if (failures) console.log(`  ${failures} requests were refused or failed (see the server log)`);
  } finally {
    await server.stop();
    temp.remove();
  }
}

// /api/config requests per second against the full server in its own process, 16 clients at once: new devices
// (each one a hostname assignment, a deployment record and events), devices asking again (the idempotent path),
// status reports, and /health as the framework's own ceiling.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { envNumber, ratio, row, tempDir } from './support.js';

const CLIENTS = 16;

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

/** `count` requests from CLIENTS concurrent loops, bounded in time too; answers per second of 2xx answers. */
async function measure(count: number, maxMs: number, send: (n: number) => Promise<Response>): Promise<{ perSecond: number; ok: number; failed: number }> {
  let next = 0;
  let ok = 0;
  let failed = 0;
  const started = performance.now();
  const deadline = started + maxMs;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < count && performance.now() < deadline) {
        const response = await send(next++);
        await response.arrayBuffer();
        if (response.ok) ok++;
        else failed++;
      }
    }),
  );
  return { perSecond: ok / ((performance.now() - started) / 1000), ok, failed };
}

const post = (url: string, body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

export default async function benchConfig(): Promise<void> {
  const count = Math.min(envNumber('PITCREW_BENCH_CONFIG_REQUESTS', 3000), 9000);
  const temp = tempDir('config');
  const server = await startServer(temp.dir);
  try {
    console.log(`  full server in a child process, ${CLIENTS} concurrent clients, up to ${count} requests per figure (20 s cap)`);
    const health = await measure(count, 20_000, () => fetch(`${server.url}/health`));
    const fresh = await measure(count, 20_000, (n) => post(`${server.url}/api/config`, { product_type: 'KXP2', venue_code: 'CORO', serial_number: `b${n.toString(16).padStart(10, '0')}` }));
    const again = await measure(count, 20_000, (n) => post(`${server.url}/api/config`, { product_type: 'KXP2', venue_code: 'CORO', serial_number: `b${(n % Math.max(fresh.ok, 1)).toString(16).padStart(10, '0')}` }));
    const status = await measure(count, 20_000, (n) => post(`${server.url}/api/status`, { status: 'downloading', hostname: null, serial: `b${(n % Math.max(fresh.ok, 1)).toString(16).padStart(10, '0')}`, progress: n % 100 }));
    row('GET /health', `${Math.round(health.perSecond)}/s`);
    row('POST /api/config, new devices (KXP2 pool)', `${Math.round(fresh.perSecond)}/s`, ratio(fresh.perSecond, health.perSecond, '/health'));
    row('POST /api/config, devices asking again', `${Math.round(again.perSecond)}/s`, ratio(again.perSecond, health.perSecond, '/health'));
    row('POST /api/status progress reports', `${Math.round(status.perSecond)}/s`, ratio(status.perSecond, health.perSecond, '/health'));
    const failures = fresh.failed + again.failed + status.failed + health.failed;
    if (failures) console.log(`  ${failures} requests were refused (see the server log)`);
  } finally {
    await server.stop();
    temp.remove();
  }
}

import { existsSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { io as connect } from 'socket.io-client';
import { dataPaths } from '../db/data-dir.js';
import { loadConfig } from './config.js';
import { startServer, type RunningServer } from './main.js';
import { startStaleSweeper } from './stale-sweeper.js';
import { activateTestImage, HttpClient } from './test-support/test-server.js';

let running: RunningServer | null = null;
let dir: string | null = null;
afterEach(async () => {
  await running?.stop();
  running = null;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = null;
});

async function start(env: Record<string, string> = {}, now?: () => Date) {
  dir = await mkdtemp(join(tmpdir(), 'pitcrew-main-'));
  const announced: string[] = [];
  const config = loadConfig({ PITCREW_LOG_LEVEL: 'silent', ...env }, { dataDir: dir, port: 0, devicePort: 0, host: '127.0.0.1', deviceHost: '127.0.0.1' });
  return { config, announced, prepare: async () => {
    running = await startServer(config, { announce: (text) => announced.push(text), now });
    return running;
  } };
}

describe('startServer', () => {
  it('creates admin with PITCREW_ADMIN_PASSWORD on first start, and does not announce it', async () => {
    const { announced, prepare } = await start({ PITCREW_ADMIN_PASSWORD: 'first-admin-pass' });
    const server = await prepare();
    expect(server.generatedAdminPassword).toBeNull();
    expect(announced).toEqual([]);
    await new HttpClient(server.addresses.management).login('admin', 'first-admin-pass');
  });

  it('creates admin with a random password printed once, and never again on restart', async () => {
    const { announced, prepare, config } = await start();
    const server = await prepare();
    const password = server.generatedAdminPassword!;
    expect(password).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(announced.join('')).toContain(password);
    await new HttpClient(server.addresses.management).login('admin', password);
    await server.stop();
    running = await startServer(config, { announce: (text) => announced.push(text) });
    expect(running.generatedAdminPassword).toBeNull();
    expect(announced).toHaveLength(1);
  });

  it('removes leftovers of interrupted uploads at start', async () => {
    const { prepare, config } = await start();
    const images = dataPaths(config.dataDir).images;
    await mkdir(images, { recursive: true });
    writeFileSync(join(images, '.incoming-0123456789abcdef'), 'half an image');
    writeFileSync(join(images, 'kxp2_v1_real.img'), 'a real image file');
    await prepare();
    expect(existsSync(join(images, '.incoming-0123456789abcdef'))).toBe(false);
    expect(existsSync(join(images, 'kxp2_v1_real.img'))).toBe(true);
  });

  it('stops gracefully with a dashboard connected: listeners closed, sockets cut, then the database', async () => {
    const { prepare } = await start({ PITCREW_ADMIN_PASSWORD: 'first-admin-pass' });
    const server = await prepare();
    const management = server.addresses.management;
    expect((await fetch(`${management}/health`)).status).toBe(200);
    const client = new HttpClient(management);
    await client.login('admin', 'first-admin-pass');
    const socket = connect(management, { transports: ['websocket'], extraHeaders: { cookie: client.cookie! }, reconnection: false, forceNew: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    const disconnected = new Promise<string>((resolve) => socket.once('disconnect', resolve));
    const started = Date.now();
    await server.stop();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await disconnected).toBeTruthy();
    socket.close();
    await expect(fetch(`${management}/health`)).rejects.toThrow();
    expect(server.server.db.open).toBe(false);
    await server.stop();
    running = null;
  });
});

describe('stale sweeper', () => {
  it('fails deployments whose device stayed silent past the timeout, with a reason', async () => {
    let clock = new Date('2026-06-15T10:00:00Z');
    const { prepare } = await start({ PITCREW_ADMIN_PASSWORD: 'first-admin-pass', PITCREW_STALE_MINUTES: '10' }, () => clock);
    const server = await prepare();
    const { core } = server.server;
    core.venues.create({ code: 'CORO', name: 'Coronado' });
    core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-3' });
    await activateTestImage(server.server, 'KXP2');
    const quiet = core.deployments.requestConfig({ venue_code: 'CORO', product_type: 'KXP2', serial_number: 'aa01' }, null).deployment;
    const chatty = core.deployments.requestConfig({ venue_code: 'CORO', product_type: 'KXP2', serial_number: 'aa02' }, null).deployment;
    const sweeper = startStaleSweeper(core, { staleMinutes: 10, intervalSeconds: 3600, log: server.server.management.log });
    try {
      clock = new Date(clock.getTime() + 9 * 60_000);
      core.deployments.report({ deployment_id: chatty.id, status: 'downloading' }, null);
      expect(sweeper.sweep()).toBe(0);
      clock = new Date(clock.getTime() + 2 * 60_000);
      expect(sweeper.sweep()).toBe(1);
      expect(core.deployments.get(quiet.id)).toMatchObject({ status: 'failed', error_message: expect.stringMatching(/No report from the device for 10 minutes \(last status: assigned\)/) });
      expect(core.deployments.get(chatty.id).status).toBe('downloading');
    } finally {
      sweeper.stop();
    }
  });
});

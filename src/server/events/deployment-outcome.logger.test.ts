// The server's own log, read from a real server process: requests at debug, and one info or warn line per
// deployment outcome naming the board (hostname, serial) and, for a failure, why.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generatedFile, uploadForm } from '../device/test-support/image-http.js';
import { spawnServer } from '../device/test-support/image-server.js';
import { waitFor } from '../test-support/test-server.js';

interface LogLine {
  level: number;
  msg: string;
  listener?: string;
  hostname?: string;
  serial?: string | null;
  reason?: string | null;
  req?: { url?: string };
}
const LEVEL = { debug: 20, info: 30, warn: 40 } as const;

describe('server log', () => {
  it('logs requests at debug and each deployment outcome at info or warn with hostname, serial and reason', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'pitcrew-log-'));
    const server = await spawnServer({ dataDir, logLevel: 'debug' });
    try {
      const call = async (base: string, method: string, path: string, body: unknown, cookie = true) => {
        const response = await fetch(`${base}${path}`, {
          method,
          headers: { 'content-type': 'application/json', ...(cookie ? { cookie: server.cookie } : {}) },
          body: JSON.stringify(body),
        });
        expect(response.ok, `${method} ${path}: ${response.status} ${await response.clone().text()}`).toBe(true);
        return response.json();
      };
      await call(server.managementUrl, 'POST', '/api/venues', { code: 'CORO', name: 'Coronado' });
      await call(server.managementUrl, 'POST', '/api/kart-numbers', { venue_code: 'CORO', numbers: '1-5' });
      const image = generatedFile(1);
      const uploaded = await uploadForm(server.managementUrl, [{ name: 'product_type', value: 'KXP2' }, { name: 'version', value: '1.0.0' }, { name: 'image', filename: 'kxp2.img', size: image.size, chunks: image.chunks() }], { headers: { cookie: server.cookie } });
      expect(uploaded.status).toBe(200);
      await call(server.managementUrl, 'POST', `/api/images/${(uploaded.body as { image: { id: number } }).image.id}/activate`, {});

      const ask = (serial: string) => call(server.deviceUrl, 'POST', '/api/config', { venue_code: 'CORO', product_type: 'KXP2', serial_number: serial }, false) as Promise<{ deployment_id: number; hostname: string; checkin_token: string }>;
      const good = await ask('10000000c0de0001');
      const bad = await ask('10000000c0de0002');
      await call(server.deviceUrl, 'POST', '/api/status', { deployment_id: good.deployment_id, status: 'completed', checkin_installed: true }, false);
      await call(server.deviceUrl, 'POST', '/api/status', { deployment_id: bad.deployment_id, status: 'failed', error_message: 'Verification failed: SHA-256 of the card does not match the image.' }, false);

      const lines = () => server.output.filter((line) => line.startsWith('{"level"')).map((line) => JSON.parse(line) as LogLine);
      const failed = await waitFor(() => lines().find((l) => l.level === LEVEL.warn && l.msg.includes('failed')), 5000, 'the failure line');
      expect(failed).toMatchObject({ hostname: bad.hostname, serial: '10000000c0de0002', reason: 'Verification failed: SHA-256 of the card does not match the image.' });
      expect(failed.msg).toContain(`${bad.hostname} (serial 10000000c0de0002`);
      const completed = lines().find((l) => l.level === LEVEL.info && l.msg.includes('completed:'));
      expect(completed).toMatchObject({ hostname: good.hostname, serial: '10000000c0de0001' });

      // Its first boot, and a check-in refused (a replay): one info line, one warn line naming the board.
      const checkin = { deployment_id: good.deployment_id, checkin_token: good.checkin_token, hostname: good.hostname, serial_number: '10000000c0de0001', mac_address: null, ip_addresses: [], os_release: null, image_version: null, uptime_s: 20, boot_time_unit_s: null };
      await call(server.deviceUrl, 'POST', '/api/checkin', checkin, false);
      const booted = await waitFor(() => lines().find((l) => l.level === LEVEL.info && l.msg.includes('booted:')), 5000, 'the boot line');
      expect(booted).toMatchObject({ hostname: good.hostname, serial: '10000000c0de0001' });
      expect((await fetch(`${server.deviceUrl}/api/checkin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(checkin) })).status).toBe(409);
      const refused = await waitFor(() => lines().find((l) => l.level === LEVEL.warn && l.msg.startsWith('check-in refused:')), 5000, 'the refusal line');
      expect(refused).toMatchObject({ hostname: good.hostname, serial: '10000000c0de0001', code: 'CONFLICT' });

      // Every request was logged, and only at debug: 1 Hz reports from 200 boards must not fill the info log.
      const requestLines = lines().filter((l) => l.msg === 'request completed' || l.msg === 'incoming request');
      expect(requestLines.some((l) => l.req?.url === '/api/status')).toBe(true);
      expect(requestLines.every((l) => l.level === LEVEL.debug)).toBe(true);
    } finally {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});

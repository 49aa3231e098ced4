// Identify and diagnose on the server: an operator's Identify travels with the device's next status answer, once;
// the installer's log arrives from the device alone and is read back as JSON or a file; the card's identity and
// rates are kept with the record, against the fleet's median.
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardFlagsOf, LOG_UPLOAD_MAX_BYTES } from '../../contracts/card-health.js';
import type { Deployment } from '../../contracts/domain.js';
import type { ClientToServerEvents, DeploymentStatusEvent, ServerToClientEvents } from '../../contracts/events.js';
import { activateTestImage, startTestServer, waitFor, type TestServer } from '../test-support/test-server.js';

let t: TestServer;
let serial = 0;
let socket: Socket<ServerToClientEvents, ClientToServerEvents>;
const events: DeploymentStatusEvent[] = [];

const configure = async () =>
  (await t.device.post('/api/config', { venue_code: 'CORO', product_type: 'KXP2', serial_number: `10000000dd${String(++serial).padStart(2, '0')}` })).body as {
    deployment_id: number;
    hostname: string;
    deployment_token: string;
  };
const report = (device: { deployment_id: number; deployment_token: string }, fields: Record<string, unknown>) =>
  t.device.post('/api/status', { deployment_id: device.deployment_id, deployment_token: device.deployment_token, ...fields });

const sdCard = { kind: 'sd', manufacturer: 'SanDisk', name: 'SN32G', serial: '0x1a2b3c4d', cid: '035344534e333247801a2b3c4d0171a5', size_bytes: 31_914_983_424, capacity_check: 'ok' };

beforeAll(async () => {
  t = await startTestServer();
  t.server.core.venues.create({ code: 'CORO', name: 'Coronado' });
  t.server.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-40' });
  await activateTestImage(t.server, 'KXP2');
  socket = connect(t.managementUrl, { transports: ['websocket'], extraHeaders: { cookie: t.as.viewer.cookie! }, reconnection: false, forceNew: true });
  socket.on('deployment_status', (event) => void events.push(event));
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('connect_error', reject));
});
afterAll(async () => {
  socket.close();
  await t.close();
});

describe('Identify', () => {
  it('is pending until the next status answer carries it, once, and is audited', async () => {
    const device = await configure();
    expect((await report(device, { status: 'downloading', progress: 5 })).body.identify).toBeUndefined();

    expect((await t.as.viewer.post(`/api/deployments/${device.deployment_id}/identify`, {})).status).toBe(403);
    const asked = await t.as.operator.post(`/api/deployments/${device.deployment_id}/identify`, {});
    expect(asked.status).toBe(200);
    expect(asked.body.deployment).toMatchObject({ identify_seconds: 30, identify_delivered_at: null, identify_requested_at: expect.any(String) });
    await waitFor(() => events.some((e) => e.deployment_id === device.deployment_id && e.deployment.identify_seconds === 30));

    const answer = await report(device, { status: 'downloading', progress: 6 });
    expect(answer.body).toMatchObject({ received: true, identify: { seconds: 30 } });
    await waitFor(() => events.some((e) => e.deployment_id === device.deployment_id && e.deployment.identify_delivered_at !== null));
    expect((await report(device, { status: 'downloading', progress: 7 })).body.identify).toBeUndefined();

    const audit = (await t.as.admin.get('/api/audit')).body.items as Array<{ action: string; target: string }>;
    expect(audit[0]).toMatchObject({ action: 'deployment.identify', target: device.hostname });
  });

  it('reaches a failed board repeating its final report, and asked twice before an answer is delivered once', async () => {
    const device = await configure();
    await report(device, { status: 'failed', error_message: 'read-back verification failed' });
    await Promise.all([
      t.as.operator.post(`/api/deployments/${device.deployment_id}/identify`, { seconds: 60 }),
      t.as.operator.post(`/api/deployments/${device.deployment_id}/identify`, { seconds: 60 }),
    ]);
    const answers = await Promise.all([1, 2, 3].map(() => report(device, { status: 'failed', error_message: 'read-back verification failed' })));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(answers.filter((a) => a.body.identify)).toEqual([expect.objectContaining({ body: expect.objectContaining({ identify: { seconds: 60 } }) })]);
  });

  it('asked for a failed board that then asks again is carried to its new record and delivered there', async () => {
    const device = await configure();
    await report(device, { status: 'failed', error_message: 'writing /dev/mmcblk0 at byte 4096 made no progress' });
    await t.as.operator.post(`/api/deployments/${device.deployment_id}/identify`, { seconds: 45 });
    const again = (await t.device.post('/api/config', { venue_code: 'CORO', product_type: 'KXP2', serial_number: `10000000dd${String(serial).padStart(2, '0')}` })).body;
    expect(again.hostname).toBe(device.hostname);
    expect(again.deployment_id).not.toBe(device.deployment_id);
    expect((await report(again, { status: 'downloading', progress: 1 })).body.identify).toEqual({ seconds: 45 });
    // Delivered once: a third attempt does not blink again.
    const third = (await t.device.post('/api/config', { venue_code: 'CORO', product_type: 'KXP2', serial_number: `10000000dd${String(serial).padStart(2, '0')}` })).body;
    expect((await report(third, { status: 'downloading', progress: 1 })).body.identify).toBeUndefined();
  });

  it('refuses bad durations, unknown deployments and boards that no longer listen, changing nothing', async () => {
    const device = await configure();
    for (const body of [{ seconds: 0 }, { seconds: 301 }, { seconds: 'long' }, { seconds: 30, led: 'ACT' }]) {
      const answer = await t.as.operator.post(`/api/deployments/${device.deployment_id}/identify`, body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.code).toBe('VALIDATION');
    }
    expect((await t.as.operator.post('/api/deployments/999999/identify', {})).body.code).toBe('NOT_FOUND');
    await report(device, { status: 'completed' });
    const done = await t.as.operator.post(`/api/deployments/${device.deployment_id}/identify`, {});
    expect(done.status).toBe(409);
    expect(done.body.error).toMatch(/no longer asks the server/);
    expect(t.server.core.deployments.get(device.deployment_id).identify_requested_at).toBeNull();
  });
});

describe('installer logs', () => {
  it('are taken from the device with its token only, and read back as JSON and as a file', async () => {
    const device = await configure();
    await report(device, { status: 'downloading' });
    const forged = await t.device.post(`/api/deployments/${device.deployment_id}/log`, { deployment_token: 'x'.repeat(32), log: 'forged' });
    expect(forged.status).toBe(403);
    const without = await t.device.post(`/api/deployments/${device.deployment_id}/log`, { log: 'no token' });
    expect(without.status).toBe(403);
    expect((await t.as.viewer.get(`/api/deployments/${device.deployment_id}/log`)).status).toBe(404);

    const text = 'pitcrew-agent: [downloading] 10 %\npitcrew-agent: read-back verification failed\n';
    const sent = await t.device.post(`/api/deployments/${device.deployment_id}/log`, { deployment_token: device.deployment_token, log: text, truncated: true });
    expect(sent.body).toEqual({ received: true, bytes: Buffer.byteLength(text) });
    const read = await t.as.viewer.get(`/api/deployments/${device.deployment_id}/log`);
    expect(read.body).toMatchObject({ deployment_id: device.deployment_id, kind: 'full', text, truncated: true });
    const file = await fetch(`${t.managementUrl}/api/deployments/${device.deployment_id}/log?download=true`, { headers: { cookie: t.as.viewer.cookie! } });
    expect(file.headers.get('content-disposition')).toBe(`attachment; filename="pitcrew-${device.hostname}-deployment-${device.deployment_id}.log"`);
    expect(await file.text()).toBe(text);
  });

  it('refuses a log over the bound and a malformed one', async () => {
    const device = await configure();
    const big = await t.device.post(`/api/deployments/${device.deployment_id}/log`, { deployment_token: device.deployment_token, log: 'x'.repeat(LOG_UPLOAD_MAX_BYTES + 1) });
    expect(big.status).toBe(400);
    expect((await t.device.post(`/api/deployments/${device.deployment_id}/log`, { deployment_token: device.deployment_token, log: 42 })).status).toBe(400);
    expect((await t.device.post('/api/deployments/999999/log', { log: 'x' })).status).toBe(404);
    expect(t.server.core.deployments.get(device.deployment_id)).toBeDefined();
    expect((await t.as.viewer.get(`/api/deployments/${device.deployment_id}/log`)).status).toBe(404);
  });

  it('keep the last lines of a completed installation, never over a failure\'s full log', async () => {
    const device = await configure();
    await report(device, { status: 'completed', log_tail: 'installed KXP2 as it should\n' });
    expect((await t.as.viewer.get(`/api/deployments/${device.deployment_id}/log`)).body).toMatchObject({ kind: 'tail', text: 'installed KXP2 as it should\n' });
  });
});

describe('card identity and rates', () => {
  it('are kept with the record; a card far slower than the fleet is flagged against the median before it', async () => {
    const rates = [20e6, 22e6, 18e6, 21e6, 19e6];
    for (const rate of rates) {
      const device = await configure();
      await report(device, { status: 'completed', card: sdCard, card_write_bps: rate, card_read_bps: 40e6 });
    }
    const slow = await configure();
    await report(slow, { status: 'verifying', card: sdCard });
    await report(slow, { status: 'completed', card_write_bps: 6e6, card_read_bps: 30e6 });
    const record = t.server.core.deployments.get(slow.deployment_id);
    expect(record).toMatchObject({ card_kind: 'sd', card_manufacturer: 'SanDisk', card_name: 'SN32G', card_size_bytes: sdCard.size_bytes, card_write_bps: 6e6, card_read_bps: 30e6, fleet_median_write_bps: 20e6 });
    expect(cardFlagsOf(record).map((f) => f.kind)).toEqual(['slow']);
  });

  it('flags a card whose capacity check found it wrapping, and refuses a malformed identity', async () => {
    const device = await configure();
    await report(device, { status: 'downloading', card: { ...sdCard, capacity_check: 'wrapped' } });
    expect(cardFlagsOf(t.server.core.deployments.get(device.deployment_id)).map((f) => f.kind)).toEqual(['capacity']);
    for (const card of [{ ...sdCard, kind: 'floppy' }, { ...sdCard, size_bytes: -1 }, { ...sdCard, cid: 'not hex' }, { ...sdCard, extra: 1 }]) {
      expect((await report(device, { status: 'downloading', card })).status).toBe(400);
    }
    expect(t.server.core.deployments.get(device.deployment_id).card_capacity_check).toBe('wrapped');
    const listed = (await t.as.viewer.get(`/api/deployments/${device.deployment_id}`)).body as Deployment;
    expect(listed).toMatchObject({ card_kind: 'sd', card_capacity_check: 'wrapped' });
  });
});

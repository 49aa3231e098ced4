// Webhooks end to end: the real server, real devices' reports through the device API, and a real HTTP receiver
// that fails when told to. Checks the management API, the signature, the formats, retries, the delivery log and a
// restart with deliveries still pending.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WEBHOOK_HEADERS, type Webhook, type WebhookDelivery } from '../../contracts/webhooks.js';
import { isValidWebhookSignature } from '../../core/webhook-signature.js';
import { buildApp } from '../build-app.js';
import { activateTestImage, startTestServer, waitFor, type TestServer } from '../test-support/test-server.js';
import { startWebhookReceiver, type ReceivedRequest, type WebhookReceiver } from './test-support/webhook-receiver.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const SECRET = 'a-long-enough-shared-secret';
const FAST_RETRIES = { firstRetryDelayMs: 50, maxRetryDelayMs: 400, timeoutMs: 1000, maxAttempts: 4 };

let t: TestServer;
let receiver: WebhookReceiver;
let serial = 0;

beforeAll(async () => {
  t = await startTestServer({}, { webhookDelivery: FAST_RETRIES });
  t.server.core.venues.create({ code: 'CORO', name: 'Coronado' });
  t.server.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-200' });
  await activateTestImage(t.server, 'KXP2');
});
afterAll(async () => t.close());
beforeEach(async () => {
  receiver = await startWebhookReceiver();
});
afterEach(async () => {
  for (const webhook of t.server.core.webhooks.list()) t.server.core.webhooks.remove(webhook.id);
  await receiver.close();
});

const createWebhook = async (body: Record<string, unknown>): Promise<Webhook> => {
  const answer = await t.as.admin.post('/api/webhooks', { name: 'Floor phone', url: `${receiver.url}/hook`, ...body });
  expect(answer.status, answer.text).toBe(201);
  return answer.body.webhook as Webhook;
};
const deliveries = async (webhookId: number): Promise<WebhookDelivery[]> => (await t.as.admin.get(`/api/webhooks/deliveries?webhook=${webhookId}`)).body.deliveries;
const settled = (webhookId: number, count = 1) =>
  waitFor(async () => {
    const list = await deliveries(webhookId);
    return list.length >= count && list.every((d) => d.status !== 'pending') && list;
  }, 10_000, 'webhook deliveries to settle');

/** A device asks for its configuration (taking a name) and reports `status`. */
async function deviceReports(status: 'failed' | 'completed', errorMessage?: string) {
  serial += 1;
  const config = await t.device.post('/api/config', { venue_code: 'CORO', product_type: 'KXP2', serial_number: `10000000ab${String(serial).padStart(4, '0')}` });
  expect(config.status, config.text).toBe(200);
  const body = status === 'failed' ? { status, error_message: errorMessage } : { status, progress: 100 };
  expect((await t.device.post('/api/status', { deployment_id: config.body.deployment_id, ...body })).status).toBe(200);
  return config.body as { deployment_id: number; hostname: string };
}

const signatureOk = (request: ReceivedRequest) =>
  isValidWebhookSignature(SECRET, { timestamp: request.headers[WEBHOOK_HEADERS.timestamp] as string, signature: request.headers[WEBHOOK_HEADERS.signature] as string }, request.body);

describe('webhook management', () => {
  it('creates a webhook, never shows its secret, and changes or removes it', async () => {
    const created = await createWebhook({ events: ['device_failed'], secret: SECRET });
    expect(created).toMatchObject({ name: 'Floor phone', format: 'json', events: ['device_failed'], has_secret: true, enabled: true });
    expect(JSON.stringify((await t.as.admin.get('/api/webhooks')).body)).not.toContain(SECRET);

    const updated = await t.as.admin.put(`/api/webhooks/${created.id}`, { secret: null, format: 'slack', enabled: false });
    expect(updated.body.webhook).toMatchObject({ has_secret: false, format: 'slack', enabled: false, url: `${receiver.url}/hook` });
    expect((await t.as.admin.delete(`/api/webhooks/${created.id}`)).status).toBe(200);
    expect((await t.as.admin.delete(`/api/webhooks/${created.id}`)).body).toMatchObject({ code: 'NOT_FOUND' });
    // The secret was redacted from the audit log too.
    const audit = (await t.as.admin.get('/api/audit')).body.items as Array<{ action: string; details: string | null }>;
    expect(audit.find((entry) => entry.action === 'webhook.create')?.details).not.toContain(SECRET);
  });

  it.each([
    ['a URL of another scheme', { url: 'ftp://example.com/hook' }],
    ['text that is no URL', { url: 'not a url' }],
    ['a URL with no host', { url: 'http://' }],
    ['no events', { events: [] }],
    ['an unknown event', { events: ['device_exploded'] }],
    ['the same event twice', { events: ['device_failed', 'device_failed'] }],
    ['an unknown format', { format: 'xml' }],
    ['a short secret', { secret: 'short' }],
    ['an unknown field', { colour: 'red' }],
  ])('refuses %s with a 400 and creates nothing', async (_what, change) => {
    const answer = await t.as.admin.post('/api/webhooks', { name: 'Bad', url: 'http://127.0.0.1:9/hook', events: ['device_failed'], ...change });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ success: false, code: 'VALIDATION' });
    expect(t.server.core.webhooks.list()).toEqual([]);
  });

  it('checks the same in the core, for callers without the API\'s schema', () => {
    const webhooks = t.server.core.webhooks;
    const valid = { name: 'Script', url: 'https://example.com/hook', events: ['device_failed' as const] };
    expect(() => webhooks.create({ ...valid, events: ['device_exploded' as never] })).toThrow(/Unknown webhook event device_exploded/);
    expect(() => webhooks.create({ ...valid, events: [] })).toThrow(/at least one event/);
    expect(() => webhooks.create({ ...valid, format: 'xml' as never })).toThrow(/Unknown webhook format xml/);
    expect(() => webhooks.create({ ...valid, secret: 'short' })).toThrow(/16 to 256 characters/);
    expect(() => webhooks.create({ ...valid, name: '   ' })).toThrow(/name of 1 to 100/);
    expect(() => webhooks.create({ ...valid, url: 'file:///etc/passwd' })).toThrow(/http:\/\/ or https:\/\//);
    expect(webhooks.list()).toEqual([]);
    const created = webhooks.create({ ...valid, events: ['device_not_booted', 'device_failed', 'device_failed'] });
    expect(created.events).toEqual(['device_failed', 'device_not_booted']);
    expect(() => webhooks.update(created.id, { secret: 'short' })).toThrow(/16 to 256 characters/);
  });

  it('is for administrators only', async () => {
    for (const role of ['viewer', 'operator'] as const) {
      expect((await t.as[role].get('/api/webhooks')).status).toBe(403);
      expect((await t.as[role].get('/api/webhooks/deliveries')).status).toBe(403);
      expect((await t.as[role].post('/api/webhooks', { name: 'x', url: `${receiver.url}/`, events: ['device_failed'] })).status).toBe(403);
    }
    expect((await t.as.admin.post('/api/webhooks/999999/test')).body).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('webhook deliveries', () => {
  it('delivers a failed device as signed JSON, retrying after the receiver failed the first attempt', async () => {
    receiver.respond = (_request, count) => (count === 1 ? 500 : 200);
    const webhook = await createWebhook({ events: ['device_failed'], secret: SECRET });
    const device = await deviceReports('failed', 'read-back verification failed: the disk holds sha256 ab, the image is cd');

    const [delivery] = await settled(webhook.id);
    expect(delivery).toMatchObject({ event: 'device_failed', status: 'delivered', attempts: 2, last_status_code: 200, summary: `Device failed: ${device.hostname}` });
    expect(delivery!.last_error).toMatch(/HTTP 500: receiver says no/);
    expect(receiver.received).toHaveLength(2);
    for (const request of receiver.received) {
      expect(request).toMatchObject({ method: 'POST', path: '/hook' });
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.headers[WEBHOOK_HEADERS.event]).toBe('device_failed');
      expect(request.headers[WEBHOOK_HEADERS.delivery]).toBe(String(delivery!.id));
      expect(signatureOk(request)).toBe(true);
    }
    // The same bytes both times; a tampered body or another key fails the check.
    expect(receiver.received[1]!.body).toBe(receiver.received[0]!.body);
    expect(signatureOk({ ...receiver.received[1]!, body: receiver.received[1]!.body.replace('failed', 'fine') })).toBe(false);
    expect(isValidWebhookSignature('another-secret-of-length', { timestamp: receiver.received[1]!.headers[WEBHOOK_HEADERS.timestamp] as string, signature: receiver.received[1]!.headers[WEBHOOK_HEADERS.signature] as string }, receiver.received[1]!.body)).toBe(false);
    // A replayed delivery from long ago fails the timestamp check even with the right signature.
    const old = receiver.received[1]!;
    expect(isValidWebhookSignature(SECRET, { timestamp: old.headers[WEBHOOK_HEADERS.timestamp] as string, signature: old.headers[WEBHOOK_HEADERS.signature] as string }, old.body, Date.now() + 3600_000)).toBe(false);

    const envelope = JSON.parse(receiver.received[1]!.body);
    expect(envelope).toMatchObject({ event: 'device_failed', title: `Device failed: ${device.hostname}`, data: { deployment: { id: device.deployment_id, status: 'failed' } } });
    expect(envelope.message).toContain('Replace the card and re-image');
  });

  it('delivers each failure once, however often the record is announced again', async () => {
    const webhook = await createWebhook({ events: ['device_failed'] });
    const device = await deviceReports('failed', 'writing /dev/mmcblk0 failed: EIO');
    await settled(webhook.id);
    expect((await t.as.operator.post(`/api/deployments/${device.deployment_id}/attention`, { resolution: 'acknowledged' })).status).toBe(200);
    await deviceReports('completed');
    await settled(webhook.id);
    expect(await deliveries(webhook.id)).toHaveLength(1);
    expect(receiver.received).toHaveLength(1);
  });

  it('tells a Slack-compatible endpoint when a batch is finished, with its counts, and only what it subscribed to', async () => {
    const webhook = await createWebhook({ events: ['batch_finished'], format: 'slack' });
    const batch = t.server.core.batches.create({ venue_code: 'CORO', product_type: 'KXP2', total_count: 2, name: 'Saturday karts', priority: 100 });
    t.server.core.batches.start(batch.id);
    await deviceReports('completed');
    await deviceReports('failed', 'the card is write-protected');
    const [delivery] = await settled(webhook.id);
    expect(delivery).toMatchObject({ event: 'batch_finished', status: 'delivered', attempts: 1 });
    expect(receiver.received).toHaveLength(1);
    const body = JSON.parse(receiver.received[0]!.body);
    expect(Object.keys(body)).toEqual(['text']);
    expect(body.text).toContain('*Batch finished: Saturday karts at CORO*');
    expect(body.text).toContain('1 of 2 devices imaged, 1 failed');
    expect(receiver.received[0]!.headers[WEBHOOK_HEADERS.signature]).toBeUndefined();
  });

  it('sends ntfy a plain-text message with its title, tags and priority headers', async () => {
    const webhook = await createWebhook({ events: ['device_failed'], format: 'ntfy', secret: SECRET });
    const device = await deviceReports('failed', 'the card is write-protected');
    await settled(webhook.id);
    const [request] = receiver.received;
    expect(request!.headers).toMatchObject({ 'content-type': 'text/plain; charset=utf-8', title: `Device failed: ${device.hostname}`, tags: 'warning', priority: '4' });
    expect(request!.body).toContain(`${device.hostname} (serial`);
    expect(request!.body).toContain('write-protected');
    expect(signatureOk(request!)).toBe(true);
  });

  it('sends a test on request, even to a webhook that subscribes to nothing that happened', async () => {
    const webhook = await createWebhook({ events: ['device_not_booted'], format: 'ntfy' });
    const answer = await t.as.admin.post(`/api/webhooks/${webhook.id}/test`);
    expect(answer.status).toBe(202);
    expect(answer.body.delivery).toMatchObject({ event: 'test', webhook_name: 'Floor phone' });
    const [delivery] = await settled(webhook.id);
    expect(delivery).toMatchObject({ event: 'test', status: 'delivered', last_status_code: 200 });
    expect(receiver.received[0]!.headers.title).toBe('Pitcrew test notification');
  });

  it('announces a device that did not boot, through the core event the first-boot check-in emits', async () => {
    const webhook = await createWebhook({ events: ['device_not_booted'] });
    const device = await deviceReports('completed');
    const deployment = t.server.core.deployments.get(device.deployment_id);
    // Written ten minutes ago: the envelope says how long the server has waited for the check-in.
    const writtenLongAgo = { ...deployment, completed_at: new Date(Date.now() - 600_000).toISOString() };
    t.server.core.ctx.write((emit) => emit('deployment_not_booted', { deployment_id: deployment.id, hostname: deployment.hostname, deployment: writtenLongAgo }));
    await settled(webhook.id);
    const envelope = JSON.parse(receiver.received[0]!.body);
    expect(envelope).toMatchObject({ event: 'device_not_booted', title: `Device not booted: ${device.hostname}`, data: { waited_s: 600 } });
    expect(envelope.message).toContain('has not checked in from its new system after 10 min');
  });

  it('gives up after the last attempt, logging the status code and the error of each', async () => {
    receiver.respond = () => 503;
    const webhook = await createWebhook({ events: ['device_failed'] });
    await deviceReports('failed', 'no card');
    const [delivery] = await settled(webhook.id);
    expect(delivery).toMatchObject({ status: 'failed', attempts: FAST_RETRIES.maxAttempts, last_status_code: 503, next_attempt_at: null });
    expect(delivery!.last_error).toContain('HTTP 503');
    expect(receiver.received).toHaveLength(FAST_RETRIES.maxAttempts);
  });

  it('counts a receiver that does not answer in time as a failed attempt, without holding up the others', async () => {
    const slow = await startWebhookReceiver(() => 'hang');
    // Garbage collection while the receiver hangs must not lose the timeout (a loaded server collects often).
    const collecting = setInterval(collectGarbage, 20);
    try {
      const stuck = await createWebhook({ events: ['device_failed'], url: `${slow.url}/slow` });
      const fine = await createWebhook({ events: ['device_failed'] });
      for (let i = 0; i < 3; i += 1) await deviceReports('failed', 'no card');
      await settled(fine.id, 3);
      const [failed] = await waitFor(async () => {
        const list = await deliveries(stuck.id);
        return list.every((d) => d.attempts >= 1) && list;
      }, 10_000, 'the slow receiver to time out on every delivery');
      expect(failed!.last_error).toBe('no answer within 1 s');
      expect(failed!.last_status_code).toBeNull();
      // A dead receiver holds at most two of the worker's slots: the third delivery to it went out only once one of
      // the first two had timed out (1 s after it was sent, less however long it took to arrive).
      expect(slow.received.length).toBeGreaterThanOrEqual(3);
      expect(slow.received[2]!.at - slow.received[0]!.at).toBeGreaterThanOrEqual(500);
    } finally {
      clearInterval(collecting);
      await slow.close();
    }
  });

  it('delivers every one of many failures reported at once, each exactly once', async () => {
    const webhook = await createWebhook({ events: ['device_failed'] });
    const devices = await Promise.all(Array.from({ length: 12 }, () => deviceReports('failed', 'no card')));
    await settled(webhook.id, devices.length);
    const hostnames = receiver.received.map((request) => JSON.parse(request.body).data.deployment.hostname).sort();
    expect(hostnames).toEqual(devices.map((d) => d.hostname).sort());
  });
});

describe('webhook deliveries across a restart', () => {
  it('sends what was still pending when the server stopped, once it is back', async () => {
    const dir = await startTestServer({}, { webhookDelivery: { ...FAST_RETRIES, firstRetryDelayMs: 60_000 }, users: false });
    const down = await startWebhookReceiver(() => 503);
    let restarted: Awaited<ReturnType<typeof buildApp>> | null = null;
    try {
      dir.server.core.venues.create({ code: 'ARIA', name: 'Aria' });
      const webhook = dir.server.core.webhooks.create({ name: 'After restart', url: `${down.url}/hook`, events: ['device_failed'] });
      dir.server.core.webhooks.sendTest(webhook.id);
      await waitFor(() => dir.server.core.webhooks.deliveries(10)[0]!.attempts === 1, 5000, 'the first attempt');
      await dir.server.close();

      down.respond = () => 200;
      restarted = await buildApp(dir.config, { webhookDelivery: { ...FAST_RETRIES, firstRetryDelayMs: 60_000 } });
      // Its retry was a minute away: bring it forward rather than wait, as a later restart would find it due.
      restarted.db.prepare("UPDATE webhook_deliveries SET next_attempt_at = '2000-01-01T00:00:00.000Z'").run();
      await restarted.listen();
      const server = restarted;
      const delivery = await waitFor(() => server.core.webhooks.deliveries(10).find((d) => d.status === 'delivered'), 5000, 'the delivery after the restart');
      expect(delivery).toMatchObject({ attempts: 2, last_status_code: 200 });
      expect(down.received).toHaveLength(2);
    } finally {
      await restarted?.close();
      await down.close();
      await dir.close();
    }
  });
});

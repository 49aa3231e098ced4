import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { activateTestImage, HttpClient, startTestServer, type TestServer } from '../test-support/test-server.js';

let t: TestServer;
beforeEach(async () => {
  t = await startTestServer({}, { users: false });
});
afterEach(async () => t.close());

function venueWithKarts(code = 'CORO', numbers = '1-5') {
  t.server.core.venues.create({ code, name: `Venue ${code}` });
  t.server.core.pool.importKartNumbers({ venue_code: code, numbers });
}

const ask = (body: Record<string, unknown>) => t.device.post('/api/config', body);
const report = (body: Record<string, unknown>) => t.device.post('/api/status', body);

describe('device API: /api/config', () => {
  it('answers /health on the device listener', async () => {
    const answer = await t.device.get('/health');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ status: 'ok', version: expect.any(String) });
  });

  it('assigns a hostname from the venue the device names, with the image URL built from the Host it used', async () => {
    venueWithKarts();
    const imageId = await activateTestImage(t.server, 'KXP2');
    const answer = await ask({ product_type: 'KXP2', venue_code: 'coro', serial_number: '10000000abcdef01', mac_address: null, timestamp: 1700000000 });
    expect(answer.status).toBe(200);
    const image = t.server.core.images.get(imageId);
    expect(answer.body).toMatchObject({
      hostname: 'KXP2-CORO-001',
      product_type: 'KXP2',
      venue_code: 'CORO',
      image_url: `${t.deviceUrl}/images/${image.filename}`,
      image_size: image.size_bytes,
      image_checksum: image.sha256,
      version: '1.0.0',
      status_url: `${t.deviceUrl}/api/status`,
      batch_id: null,
    });
    expect(t.server.core.deployments.get(answer.body.deployment_id)).toMatchObject({ hostname: 'KXP2-CORO-001', status: 'assigned', ip_address: '127.0.0.1' });
    expect(new Date(answer.body.timestamp).toISOString()).toBe(answer.body.timestamp);
  });

  it('uses PITCREW_DEVICE_URL for image and status URLs when it is set', async () => {
    await t.close();
    t = await startTestServer({ deviceUrl: 'http://10.42.0.1:5001/' }, { users: false });
    venueWithKarts();
    await activateTestImage(t.server, 'KXP2');
    const answer = await ask({ product_type: 'KXP2', venue_code: 'CORO', serial_number: 'abc' });
    expect(answer.body.image_url).toMatch(/^http:\/\/10\.42\.0\.1:5001\/images\/kxp2_v1\.0\.0_/);
    expect(answer.body.status_url).toBe('http://10.42.0.1:5001/api/status');
  });

  it('serves from the highest-priority active batch even when the device names nothing', async () => {
    venueWithKarts('CORO', '1-5');
    t.server.core.venues.create({ code: 'ARIA', name: 'Aria' });
    await activateTestImage(t.server, 'KXP2');
    await activateTestImage(t.server, 'RXP2');
    const low = t.server.core.batches.create({ venue_code: 'CORO', product_type: 'KXP2', total_count: 2, priority: 1 });
    const high = t.server.core.batches.create({ venue_code: 'ARIA', product_type: 'RXP2', total_count: 1, priority: 5 });
    t.server.core.batches.start(low.id);
    t.server.core.batches.start(high.id);
    const first = await ask({ serial_number: '10000000deadbeef' });
    expect(first.body).toMatchObject({ hostname: 'RXP2-ARIA-DEADBEEF', batch_id: high.id, product_type: 'RXP2' });
    const second = await ask({ serial_number: '10000000cafe0002', venue_code: null, product_type: null });
    expect(second.body).toMatchObject({ hostname: 'KXP2-CORO-001', batch_id: low.id });
    // Its one name is out and its device imaging: it serves nobody new, and is not complete yet.
    expect(t.server.core.batches.get(high.id)).toMatchObject({ status: 'active', remaining_count: 0, imaging_count: 1 });
  });

  it('gives a device that asks again the hostname it already holds, without consuming another', async () => {
    venueWithKarts();
    await activateTestImage(t.server, 'KXP2');
    const first = await ask({ product_type: 'KXP2', venue_code: 'CORO', serial_number: 'aa01', mac_address: 'dc:a6:32:00:00:01' });
    const again = await ask({ product_type: 'KXP2', venue_code: 'CORO', serial_number: 'AA01', mac_address: 'dc:a6:32:00:00:01' });
    expect(again.status).toBe(200);
    expect(again.body.hostname).toBe(first.body.hostname);
    expect(again.body.deployment_id).not.toBe(first.body.deployment_id);
    expect(t.server.core.venues.stats('CORO').by_product.KXP2).toMatchObject({ assigned: 1, available: 4 });
    // The first, unfinished deployment is closed rather than left dangling.
    expect(t.server.core.deployments.get(first.body.deployment_id).status).toBe('superseded');
  });

  it('refuses with 409 and consumes nothing when no image is active', async () => {
    venueWithKarts();
    const answer = await ask({ product_type: 'KXP2', venue_code: 'CORO', serial_number: 'aa01' });
    expect(answer.status).toBe(409);
    expect(answer.body).toMatchObject({ success: false, code: 'NO_ACTIVE_IMAGE', error: expect.stringMatching(/No KXP2 master image is active/) });
    expect(t.server.core.venues.stats('CORO').by_product.KXP2.assigned).toBe(0);
  });

  it('refuses with a clear 4xx when there is no batch and no venue, an unknown venue, or an exhausted pool', async () => {
    venueWithKarts('CORO', '1');
    await activateTestImage(t.server, 'KXP2');
    const none = await ask({ serial_number: 'aa01', venue_code: null });
    expect(none.status).toBe(409);
    expect(none.body.code).toBe('NO_ACTIVE_BATCH');
    const unknown = await ask({ serial_number: 'aa01', venue_code: 'NOPE', product_type: 'KXP2' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatch(/no venue NOPE/);
    expect((await ask({ serial_number: 'aa01', venue_code: 'CORO', product_type: 'KXP2' })).status).toBe(200);
    const exhausted = await ask({ serial_number: 'aa02', venue_code: 'CORO', product_type: 'KXP2' });
    expect(exhausted.status).toBe(409);
    expect(exhausted.body.code).toBe('POOL_EXHAUSTED');
    expect(JSON.stringify(exhausted.body)).not.toMatch(/KXP2-CORO-0/);
  });

  it.each([
    [{ serial_number: 'aa01', surprise: 1 }, /Unknown field "surprise"/],
    [{ serial_number: 12345 }, /Field "serial_number" must be text/],
    [{ serial_number: 'aa01', product_type: 'XYZ' }, /Field "product_type" must be one of KXP2, RXP2/],
    [{ mac_address: 'not-a-mac' }, /Field "mac_address" has the wrong format/],
    [{ serial_number: 'has spaces!' }, /Field "serial_number" has the wrong format/],
    [{}, /neither a serial number nor a MAC/],
    [[1, 2], /body must be an object/i],
  ])('refuses bad input %j with a 400 naming the problem', async (body, message) => {
    const answer = await ask(body as Record<string, unknown>);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ success: false, code: 'VALIDATION' });
    expect(answer.body.error).toMatch(message);
  });

  it('refuses a body that is not JSON with a 400', async () => {
    const answer = await t.device.request('POST', '/api/config', { body: '{"serial_number": ', headers: { 'content-type': 'application/json' } });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatch(/not valid JSON/);
  });
});

describe('device API: /api/status', () => {
  async function deployed() {
    venueWithKarts();
    await activateTestImage(t.server, 'KXP2');
    return (await ask({ product_type: 'KXP2', venue_code: 'CORO', serial_number: '10000000aa01', mac_address: 'dc:a6:32:00:00:01' })).body;
  }

  it('moves a deployment through its states by deployment_id and records progress', async () => {
    const config = await deployed();
    const downloading = await report({ deployment_id: config.deployment_id, status: 'downloading', progress: 42.5, bytes_done: 100, bytes_total: 1000, rate_bps: 5000 });
    expect(downloading.status).toBe(200);
    expect(downloading.body).toEqual({ received: true, hostname: 'KXP2-CORO-001', deployment_id: config.deployment_id, status: 'downloading' });
    expect(t.server.core.deployments.get(config.deployment_id)).toMatchObject({ status: 'downloading', progress: 42.5, bytes_done: 100, rate_bps: 5000 });
    await report({ deployment_id: config.deployment_id, status: 'verifying' });
    await report({ deployment_id: config.deployment_id, status: 'customizing' });
    const done = await report({ deployment_id: config.deployment_id, status: 'completed' });
    expect(done.body.status).toBe('completed');
    expect(t.server.core.deployments.get(config.deployment_id)).toMatchObject({ status: 'completed', progress: 100 });
  });

  it('accepts the original installer: hostname and serial instead of an id, its words, nulls and a numeric timestamp', async () => {
    const config = await deployed();
    const starting = await report({ status: 'starting', hostname: config.hostname, serial: '10000000AA01', mac_address: null, error_message: null, progress: 0, timestamp: 1700000000.5 });
    expect(starting.status).toBe(200);
    expect(starting.body.status).toBe('assigned');
    const success = await report({ status: 'success', hostname: config.hostname, serial: '10000000aa01', error_message: null, timestamp: 1700000100 });
    expect(success.body).toMatchObject({ received: true, hostname: config.hostname, status: 'completed' });
  });

  it('records the reason of a failure, and the installer\'s code for it where it sends one', async () => {
    const config = await deployed();
    await report({ deployment_id: config.deployment_id, status: 'failed', error_message: 'SHA-256 mismatch after write' });
    expect(t.server.core.deployments.get(config.deployment_id)).toMatchObject({ status: 'failed', error_message: 'SHA-256 mismatch after write', error_code: null });
    // The same board tries again, and fails again: this time its installer says what kind of failure it was.
    const coded = (await ask({ product_type: 'KXP2', venue_code: 'CORO', serial_number: '10000000aa01', mac_address: 'dc:a6:32:00:00:01' })).body;
    expect(coded.deployment_id).not.toBe(config.deployment_id);
    await report({ deployment_id: coded.deployment_id, status: 'failed', error_message: 'the boot partition is too small for firstrun.sh', error_code: 'CUSTOMIZE' });
    expect(t.server.core.deployments.get(coded.deployment_id)).toMatchObject({ status: 'failed', error_code: 'CUSTOMIZE' });
  });

  it('ignores a report against a final state with a clear 409', async () => {
    const config = await deployed();
    await report({ deployment_id: config.deployment_id, status: 'completed' });
    const late = await report({ deployment_id: config.deployment_id, status: 'downloading', progress: 10 });
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ code: 'DEPLOYMENT_FINAL', error: expect.stringMatching(/already completed; the report was ignored/) });
    expect(t.server.core.deployments.get(config.deployment_id).status).toBe('completed');
    // The final report once more (a retry whose answer was lost on the way) is taken, not refused.
    const again = await report({ deployment_id: config.deployment_id, status: 'completed' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ received: true, status: 'completed' });
  });

  it('accepts a completed report for a deployment the stale sweep marked failed, and the audit log says so (#16)', async () => {
    const config = await deployed();
    await report({ deployment_id: config.deployment_id, status: 'verifying', progress: 90 });
    // The server was away while the device finished: its sweep took the silence for a failure.
    expect(t.server.core.deployments.sweepStale(-60_000).map((d) => d.id)).toEqual([config.deployment_id]);
    expect(t.server.core.stats()).toMatchObject({ failed_today: 1, completed_today: 0 });
    const late = await report({ deployment_id: config.deployment_id, status: 'completed', message: 'installed 1.0.0' });
    expect(late.status).toBe(200);
    expect(late.body).toMatchObject({ received: true, status: 'completed' });
    expect(t.server.core.deployments.get(config.deployment_id)).toMatchObject({ status: 'completed', error_message: null, swept_at: expect.any(String) });
    expect(t.server.core.stats()).toMatchObject({ failed_today: 0, completed_today: 1 });
    expect(t.server.accounts.listAudit(1, 10).items.filter((entry) => entry.action.startsWith('deployment.'))).toEqual([
      expect.objectContaining({ action: 'deployment.sweep_overruled', target: config.hostname, details: expect.stringContaining('the device\'s report stands') }),
    ]);
  });

  it('answers 404 for an unknown deployment and 400 for a report naming nothing or a bad status', async () => {
    expect((await report({ deployment_id: 999, status: 'downloading' })).status).toBe(404);
    const nothing = await report({ status: 'downloading' });
    expect(nothing.status).toBe(400);
    expect(nothing.body.error).toMatch(/must name its deployment_id, hostname, serial or MAC/);
    const badStatus = await report({ deployment_id: 1, status: 'exploding' });
    expect(badStatus.status).toBe(400);
    expect(badStatus.body.error).toMatch(/Field "status" must be one of/);
    const badProgress = await report({ deployment_id: 1, status: 'downloading', progress: 140 });
    expect(badProgress.body.error).toMatch(/Field "progress" must be <= 100/);
    const badCode = await report({ deployment_id: 1, status: 'failed', error_code: 'no such; code' });
    expect(badCode.status).toBe(400);
    expect(badCode.body.error).toMatch(/Field "error_code"/);
  });
});

describe('device listener boundaries', () => {
  it('never answers management routes, and the management listener never answers device routes', async () => {
    for (const path of ['/api/venues', '/api/auth/me', '/api/stats', '/api/docs/json', '/metrics', '/']) {
      const answer = await t.device.get(path);
      expect(answer.status, path).toBe(404);
    }
    expect((await t.device.post('/api/auth/login', { username: 'admin', password: 'x' })).status).toBe(404);
    const management = new HttpClient(t.managementUrl);
    expect((await management.post('/api/config', { serial_number: 'aa01' })).status).toBe(404);
    expect((await management.post('/api/status', { status: 'completed', deployment_id: 1 })).status).toBe(404);
    expect((await management.get('/images/anything.img')).status).toBe(404);
  });

  it('requires PITCREW_DEVICE_TOKEN when set, as a Bearer token or X-Device-Token, except for /health', async () => {
    await t.close();
    t = await startTestServer({ deviceToken: 'a-long-device-secret-123' }, { users: false });
    venueWithKarts();
    await activateTestImage(t.server, 'KXP2');
    const body = { product_type: 'KXP2', venue_code: 'CORO', serial_number: 'aa01' };
    const missing = await ask(body);
    expect(missing.status).toBe(401);
    expect(missing.body.error).toMatch(/requires a device token/);
    expect((await t.device.post('/api/config', body, { headers: { 'x-device-token': 'wrong-token-wrong-token' } })).status).toBe(401);
    expect((await t.device.get('/images/whatever.img')).status).toBe(401);
    expect((await t.device.get('/health')).status).toBe(200);
    expect((await t.device.post('/api/config', body, { headers: { authorization: 'Bearer a-long-device-secret-123' } })).status).toBe(200);
    expect((await t.device.post('/api/config', body, { headers: { 'x-device-token': 'a-long-device-secret-123' } })).status).toBe(200);
  });
});

// The "needs attention" lane on the server: which deployments the `attention` filter lists, and how an operator (or
// the device asking again) takes one off it, recorded on the record and in the audit log. A card the installer's
// capacity check proved counterfeit is written all the same; its finished board waits on the lane too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STALLED_AFTER_S } from '../../contracts/attention.js';
import type { Deployment } from '../../contracts/domain.js';
import { activateTestImage, startTestServer, type TestServer } from '../test-support/test-server.js';

let t: TestServer;
let clock = Date.parse('2026-05-01T10:00:00Z');

const config = async (n: number) =>
  (await t.device.post('/api/config', { venue_code: 'CORO', product_type: 'KXP2', serial_number: `10000000ee0${n}`, mac_address: `dc:a6:32:00:ee:0${n}` })).body as { deployment_id: number; hostname: string };
const attentionIds = async () => ((await t.as.viewer.get('/api/deployments?attention=true')).body.items as Deployment[]).map((d) => d.id).sort((a, b) => a - b);

beforeAll(async () => {
  t = await startTestServer({}, { now: () => new Date(clock) });
  t.server.core.venues.create({ code: 'CORO', name: 'Coronado' });
  t.server.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-20' });
  await activateTestImage(t.server, 'KXP2');
});
afterAll(async () => t.close());

describe('deployments needing attention', () => {
  it('lists unresolved failures and silent unfinished devices, nothing else', async () => {
    const failed = await config(1);
    const silent = await config(2);
    const busy = await config(3);
    await t.device.post('/api/status', { deployment_id: failed.deployment_id, status: 'failed', error_message: 'read-back verification failed: the disk holds sha256 ab, the image is cd' });
    expect(await attentionIds()).toEqual([failed.deployment_id]);

    clock += (STALLED_AFTER_S + 1) * 1000;
    await t.device.post('/api/status', { deployment_id: busy.deployment_id, status: 'downloading', progress: 10 });
    expect(await attentionIds()).toEqual([failed.deployment_id, silent.deployment_id]);
  });

  it('takes a device off the lane when an operator acknowledges it, saying who and when', async () => {
    const [failedId] = await attentionIds();
    expect((await t.as.viewer.post(`/api/deployments/${failedId}/attention`, { resolution: 'acknowledged' })).status).toBe(403);
    const answer = await t.as.operator.post(`/api/deployments/${failedId}/attention`, { resolution: 'acknowledged' });
    expect(answer.status).toBe(200);
    expect(answer.body.deployment).toMatchObject({ id: failedId, status: 'failed', attention_resolution: 'acknowledged', attention_resolved_by: 'operator', attention_resolved_at: new Date(clock).toISOString() });
    expect(await attentionIds()).not.toContain(failedId);
    const audit = (await t.as.admin.get('/api/audit')).body.items as Array<{ action: string; actor: string; target: string }>;
    expect(audit[0]).toMatchObject({ action: 'deployment.attention', actor: 'operator', target: 'KXP2-CORO-001' });
  });

  it('covers a stall with an acknowledgement only until the device reports and falls silent again', async () => {
    const silentId = (await attentionIds())[0]!;
    await t.as.operator.post(`/api/deployments/${silentId}/attention`, { resolution: 'acknowledged' });
    expect(await attentionIds()).toEqual([]);
    clock += 1000;
    await t.device.post('/api/status', { deployment_id: silentId, status: 'downloading', progress: 20 });
    clock += (STALLED_AFTER_S + 1) * 1000;
    expect(await attentionIds()).toContain(silentId);
  });

  it('does not let an acknowledged stall hide the failure that follows it: a failure is news', async () => {
    const device = await config(7);
    clock += (STALLED_AFTER_S + 1) * 1000;
    expect(await attentionIds()).toContain(device.deployment_id);
    await t.as.operator.post(`/api/deployments/${device.deployment_id}/attention`, { resolution: 'acknowledged' });
    expect(await attentionIds()).not.toContain(device.deployment_id);
    clock += 1000;
    const failed = await t.device.post('/api/status', { deployment_id: device.deployment_id, status: 'failed', error_message: 'the target /dev/mmcblk0 is write-protected' });
    expect(failed.status).toBe(200);
    expect(await attentionIds()).toContain(device.deployment_id);
    const record = (await t.as.viewer.get(`/api/deployments/${device.deployment_id}`)).body as Deployment;
    expect(record).toMatchObject({ status: 'failed', attention_resolved_at: null, attention_resolution: null, attention_resolved_by: null });

    // An acknowledged silence that the stale sweep closes is the same silence: it stays acknowledged.
    const unplugged = await config(9);
    clock += (STALLED_AFTER_S + 1) * 1000;
    await t.as.operator.post(`/api/deployments/${unplugged.deployment_id}/attention`, { resolution: 'acknowledged' });
    clock += 60_000;
    const swept = t.server.core.deployments.sweepStale(60_000).map((d) => d.id);
    expect(swept).toContain(unplugged.deployment_id);
    expect(t.server.core.deployments.get(unplugged.deployment_id)).toMatchObject({ status: 'failed', attention_resolution: 'acknowledged' });
    expect(await attentionIds()).not.toContain(unplugged.deployment_id);

    // A re-image asked for while it was silent stands: the device is to start over whatever this record comes to.
    const marked = await config(8);
    clock += (STALLED_AFTER_S + 1) * 1000;
    await t.as.operator.post(`/api/deployments/${marked.deployment_id}/attention`, { resolution: 'reimage' });
    await t.device.post('/api/status', { deployment_id: marked.deployment_id, status: 'failed', error_message: 'the target /dev/mmcblk0 is write-protected' });
    expect(await attentionIds()).not.toContain(marked.deployment_id);
  });

  it('marks a failure for a re-image; the device asking again keeps its hostname and closes the old record for good', async () => {
    const device = await config(4);
    await t.device.post('/api/status', { deployment_id: device.deployment_id, status: 'failed', error_message: 'writing /dev/mmcblk0 at byte 4096 made no progress' });
    const marked = await t.as.operator.post(`/api/deployments/${device.deployment_id}/attention`, { resolution: 'reimage' });
    expect(marked.body.deployment).toMatchObject({ attention_resolution: 'reimage' });
    expect(await attentionIds()).not.toContain(device.deployment_id);

    const again = await config(4);
    expect(again.hostname).toBe(device.hostname);
    expect(again.deployment_id).not.toBe(device.deployment_id);
    const old = (await t.as.viewer.get(`/api/deployments/${device.deployment_id}`)).body as Deployment;
    expect(old).toMatchObject({ status: 'failed', attention_resolution: 'reimaged', attention_resolved_by: 'server' });
  });

  it('takes an unresolved failure off the lane when its device asks again', async () => {
    const device = await config(5);
    await t.device.post('/api/status', { deployment_id: device.deployment_id, status: 'failed', error_message: 'boom' });
    expect(await attentionIds()).toContain(device.deployment_id);
    await config(5);
    expect(await attentionIds()).not.toContain(device.deployment_id);
  });

  it('refuses to resolve a completed deployment, and an unknown resolution', async () => {
    const device = await config(6);
    await t.device.post('/api/status', { deployment_id: device.deployment_id, status: 'completed' });
    expect((await t.as.operator.post(`/api/deployments/${device.deployment_id}/attention`, { resolution: 'acknowledged' })).status).toBe(409);
    expect((await t.as.operator.post(`/api/deployments/${device.deployment_id}/attention`, { resolution: 'reimaged' })).status).toBe(400);
    expect((await t.as.operator.post('/api/deployments/999999/attention', { resolution: 'acknowledged' })).status).toBe(404);
  });
});

describe('a finished board on a card proven counterfeit', () => {
  const fakeBoard = async (n: number) =>
    (await t.device.post('/api/config', { venue_code: 'CORO', product_type: 'KXP2', serial_number: `10000000cc0${n}`, mac_address: `dc:a6:32:00:cc:0${n}` })).body as { deployment_id: number; hostname: string };
  // As the installer reports it: the card in every phase report from the capacity check on, rates in the final one.
  const card = (capacityCheck: string) => ({ kind: 'sd', manufacturer: 'none (0x000000, typical of counterfeit cards)', name: 'NCard', serial: '0xdeadbeef', size_bytes: 1_024_209_543_168, capacity_check: capacityCheck });
  const install = async (device: { deployment_id: number }, capacityCheck: string) => {
    await t.device.post('/api/status', { deployment_id: device.deployment_id, status: 'downloading', progress: 10, card: card(capacityCheck) });
    await t.device.post('/api/status', { deployment_id: device.deployment_id, status: 'completed', card: card(capacityCheck), card_write_bps: 18_000_000 });
  };
  const deployment = async (id: number) => (await t.as.viewer.get(`/api/deployments/${id}`)).body as Deployment;

  it('waits on the lane once written, not while installing, until an operator acknowledges it; a card that passed never does', async () => {
    const fake = await fakeBoard(1);
    await t.device.post('/api/status', { deployment_id: fake.deployment_id, status: 'downloading', progress: 10, card: card('wrapped') });
    expect(await attentionIds()).not.toContain(fake.deployment_id);
    await t.device.post('/api/status', { deployment_id: fake.deployment_id, status: 'completed', card: card('wrapped') });
    expect(await deployment(fake.deployment_id)).toMatchObject({ status: 'completed', card_capacity_check: 'wrapped', attention_resolved_at: null });
    expect(await attentionIds()).toContain(fake.deployment_id);

    const passed = await fakeBoard(2);
    await install(passed, 'ok');
    const skipped = await fakeBoard(3);
    await install(skipped, 'skipped');
    expect(await attentionIds()).not.toContain(passed.deployment_id);
    expect(await attentionIds()).not.toContain(skipped.deployment_id);
    expect((await t.as.operator.post(`/api/deployments/${passed.deployment_id}/attention`, { resolution: 'acknowledged' })).status).toBe(409);

    clock += 60_000;
    const answer = await t.as.operator.post(`/api/deployments/${fake.deployment_id}/attention`, { resolution: 'acknowledged' });
    expect(answer.status).toBe(200);
    expect(answer.body.deployment).toMatchObject({ status: 'completed', attention_resolution: 'acknowledged', attention_resolved_by: 'operator' });
    expect(await attentionIds()).not.toContain(fake.deployment_id);
    clock += 3600_000;
    expect(await attentionIds()).not.toContain(fake.deployment_id);
  });

  it('leaves the lane when marked for a re-image, and the record is history once the device asks again, asked to or not', async () => {
    const marked = await fakeBoard(4);
    await install(marked, 'lost');
    expect(await attentionIds()).toContain(marked.deployment_id);
    expect((await t.as.operator.post(`/api/deployments/${marked.deployment_id}/attention`, { resolution: 'reimage' })).body.deployment).toMatchObject({ attention_resolution: 'reimage' });
    expect(await attentionIds()).not.toContain(marked.deployment_id);
    expect((await fakeBoard(4)).hostname).toBe(marked.hostname);
    expect(await deployment(marked.deployment_id)).toMatchObject({ attention_resolution: 'reimaged', attention_resolved_by: 'server' });

    const unasked = await fakeBoard(5);
    await install(unasked, 'wrapped');
    expect(await attentionIds()).toContain(unasked.deployment_id);
    await fakeBoard(5);
    expect(await attentionIds()).not.toContain(unasked.deployment_id);
    expect(await deployment(unasked.deployment_id)).toMatchObject({ attention_resolution: 'reimaged', attention_resolved_by: 'server' });
  });

  it('is not covered by an acknowledgement of a stall while it installed: nobody had seen the card then', async () => {
    const device = await fakeBoard(6);
    await t.device.post('/api/status', { deployment_id: device.deployment_id, status: 'downloading', progress: 10, card: card('wrapped') });
    clock += (STALLED_AFTER_S + 1) * 1000;
    expect(await attentionIds()).toContain(device.deployment_id);
    await t.as.operator.post(`/api/deployments/${device.deployment_id}/attention`, { resolution: 'acknowledged' });
    expect(await attentionIds()).not.toContain(device.deployment_id);
    clock += 1000;
    await t.device.post('/api/status', { deployment_id: device.deployment_id, status: 'completed', card: card('wrapped') });
    expect(await attentionIds()).toContain(device.deployment_id);
  });
});

// Numbers too large for SQLite or for JavaScript's exact integers are a 400 naming the field, never a 500 (#16).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activateTestImage, startTestServer, type TestServer } from './test-support/test-server.js';

let t: TestServer;
let deploymentId: number;
beforeAll(async () => {
  t = await startTestServer();
  t.server.core.venues.create({ code: 'CORO', name: 'Coronado' });
  t.server.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-5' });
  await activateTestImage(t.server, 'KXP2');
  const config = await t.device.post('/api/config', { product_type: 'KXP2', venue_code: 'CORO', serial_number: 'abc1' });
  deploymentId = config.body.deployment_id;
});
afterAll(async () => t.close());

describe('integers at the edges have a maximum', () => {
  it.each([
    ['bytes_done', 2n ** 63n - 1n],
    ['bytes_total', 2n ** 63n - 1n],
    ['rate_bps', 2n ** 63n - 1n],
    ['eta_s', 2n ** 63n - 1n],
    ['deployment_id', 2n ** 63n - 1n],
  ])('a status report with %s %s is refused as such (device listener, no login)', async (field, value) => {
    // Sent as written, so the server parses the 19 digits itself.
    const body = `{"status":"downloading","deployment_id":${field === 'deployment_id' ? value : deploymentId},"${field}":${value}}`;
    const answer = await t.device.post('/api/status', body);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: 'VALIDATION', error: expect.stringContaining(field) });
    expect(t.server.core.deployments.get(deploymentId).status).toBe('assigned');
  });

  it.each(['/api/deployments', '/api/kart-numbers', '/api/audit'])('page=99999999999999999999 on %s is a 400', async (path) => {
    const answer = await t.as.admin.get(`${path}?page=99999999999999999999`);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: 'VALIDATION', error: expect.stringContaining('page') });
  });

  it.each(['/api/deployments/99999999999999999999', '/api/batches/99999999999999999999', '/api/deployments?batch=99999999999999999999'])('%s is a 400', async (path) => {
    const answer = await t.as.admin.get(path);
    expect(answer.status).toBe(400);
  });

  it('the largest page that is allowed is an empty page, not an error', async () => {
    const answer = await t.as.admin.get('/api/deployments?page=1000000&limit=500');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ items: [], page: 1000000 });
  });
});

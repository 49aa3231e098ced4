import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../test-support/test-server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => t.close());

describe('venues API', () => {
  it('creates, lists, reads, edits and deletes a venue', async () => {
    const created = await t.as.operator.post('/api/venues', { code: 'coro', name: ' Coronado Speedway ', location: 'San Diego', contact_email: 'ops@coronado.example' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ success: true, venue_code: 'CORO', venue: { code: 'CORO', name: 'Coronado Speedway', location: 'San Diego' } });
    expect((await t.as.viewer.get('/api/venues')).body.venues.map((v: { code: string }) => v.code)).toContain('CORO');
    expect((await t.as.viewer.get('/api/venues/coro')).body).toMatchObject({ code: 'CORO', contact_email: 'ops@coronado.example' });
    const edited = await t.as.operator.put('/api/venues/CORO', { name: 'Coronado', location: null });
    expect(edited.status).toBe(200);
    expect(edited.body.venue).toMatchObject({ name: 'Coronado', location: null, contact_email: 'ops@coronado.example' });
    expect((await t.as.operator.delete('/api/venues/CORO')).body).toEqual({ success: true });
    expect((await t.as.viewer.get('/api/venues/CORO')).status).toBe(404);
  });

  it('answers pool statistics per venue and per product', async () => {
    await t.as.operator.post('/api/venues', { code: 'STAT', name: 'Stats' });
    await t.as.operator.post('/api/kart-numbers', { venue_code: 'STAT', numbers: '1-10' });
    const stats = await t.as.viewer.get('/api/venues/STAT/stats');
    expect(stats.status).toBe(200);
    expect(stats.body).toMatchObject({ available: 10, assigned: 0, retired: 0, total: 10, unreserved: 10, by_product: { KXP2: { available: 10 }, RXP2: { total: 0 } } });
  });

  it.each([
    [{ code: 'TOOLONG', name: 'x' }, 400, /Field "code" has the wrong format/],
    [{ code: 'AB', name: 'x' }, 400, /Field "code"/],
    [{ code: 'AB-C', name: 'x' }, 400, /Field "code"/],
    [{ code: 'GOOD' }, 400, /Field "name" is required/],
    [{ code: 'GOOD', name: '' }, 400, /Field "name" must not be empty/],
    [{ code: 'GOOD', name: 'x'.repeat(101) }, 400, /at most 100 characters/],
    [{ code: 'GOOD', name: 'Good', contact_email: 'not-an-email' }, 400, /not a valid address/],
    [{ code: 'GOOD', name: 'Good', extra: true }, 400, /Unknown field "extra"/],
    [{ code: 1234, name: 'Good' }, 400, /Field "code" must be text/],
  ])('refuses %j', async (body, status, message) => {
    const answer = await t.as.operator.post('/api/venues', body);
    expect(answer.status).toBe(status);
    expect(answer.body).toMatchObject({ success: false, code: 'VALIDATION' });
    expect(answer.body.error).toMatch(message);
  });

  it('refuses a duplicate code, edits of unknown venues, and deleting a venue still in use', async () => {
    await t.as.operator.post('/api/venues', { code: 'USED', name: 'Used' });
    const duplicate = await t.as.operator.post('/api/venues', { code: 'used', name: 'Again' });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.error).toMatch(/Venue USED already exists/);
    expect((await t.as.operator.put('/api/venues/NONE', { name: 'x' })).status).toBe(404);
    expect((await t.as.operator.put('/api/venues/USED', { code: 'NEWC' })).body.error).toMatch(/Unknown field "code"/);
    await t.as.operator.post('/api/kart-numbers', { venue_code: 'USED', numbers: '1-3' });
    await t.as.operator.post('/api/batches', { venue_code: 'USED', product_type: 'KXP2', total_count: 2 });
    const refused = await t.as.operator.delete('/api/venues/USED');
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatch(/cannot be deleted: it has 1 open batch/);
  });

  it('lets a viewer read but not change venues', async () => {
    expect((await t.as.viewer.post('/api/venues', { code: 'VIEW', name: 'x' })).status).toBe(403);
    expect((await t.as.viewer.get('/api/venues')).status).toBe(200);
  });
});

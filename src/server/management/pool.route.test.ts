import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../test-support/test-server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
  await t.as.operator.post('/api/venues', { code: 'CORO', name: 'Coronado' });
});
afterAll(async () => t.close());

const entryOf = async (hostname: string) =>
  (await t.as.viewer.get(`/api/kart-numbers?venue=CORO&search=${hostname}`)).body.items.find((e: { hostname: string }) => e.hostname === hostname);

describe('kart numbers and hostnames API', () => {
  it('imports ranges and lists, skipping and counting duplicates', async () => {
    const first = await t.as.operator.post('/api/kart-numbers', { venue_code: 'coro', numbers: '1-5, 7\n9' });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ success: true, added: 7, duplicates: 0 });
    const second = await t.as.operator.post('/api/kart-numbers', { venue_code: 'CORO', numbers: [5, '9-10', 10] });
    expect(second.body).toMatchObject({ added: 1, duplicates: 3 });
    const list = await t.as.viewer.get('/api/kart-numbers?venue=CORO&product=KXP2&limit=3&page=2');
    expect(list.body).toMatchObject({ total: 8, page: 2, limit: 3 });
    expect(list.body.items.map((e: { hostname: string }) => e.hostname)).toEqual(['KXP2-CORO-004', 'KXP2-CORO-005', 'KXP2-CORO-007']);
  });

  it('imports nothing when any token is invalid, and says which', async () => {
    const answer = await t.as.operator.post('/api/kart-numbers', { venue_code: 'CORO', numbers: '20-25, abc, 30-28, 10000' });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatch(/"abc", "30-28", "10000"/);
    expect(answer.body.details.invalid_tokens).toEqual(['abc', '30-28', '10000']);
    expect(await entryOf('KXP2-CORO-020')).toBeUndefined();
  });

  it.each([
    [{ venue_code: 'CORO' }, /Field "numbers" is required/],
    [{ venue_code: 'CORO', numbers: true }, /Field "numbers"/],
    [{ venue_code: 'NOPE', numbers: '1' }, /no venue NOPE/],
    [{ venue_code: 'CORO', numbers: '1', product_type: 'RXP2' }, /Field "product_type" must be "KXP2"/],
    [{ venue_code: 'CORO', numbers: '' }, /No kart numbers given/],
  ])('refuses import %j', async (body, message) => {
    const answer = await t.as.operator.post('/api/kart-numbers', body);
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    expect(answer.body.error).toMatch(message);
  });

  it('assigns manually, releases, retires and deletes single numbers', async () => {
    const assigned = await t.as.operator.post('/api/hostname/assign', { product_type: 'KXP2', venue_code: 'CORO', serial_number: '10000000aa01', mac_address: 'DC:A6:32:00:00:01' });
    expect(assigned.status).toBe(200);
    expect(assigned.body).toMatchObject({ success: true, hostname: 'KXP2-CORO-001', reused: false, entry: { status: 'assigned', mac_address: 'dc:a6:32:00:00:01' } });
    const again = await t.as.operator.post('/api/hostname/assign', { product_type: 'KXP2', venue_code: 'CORO', serial_number: '10000000AA01' });
    expect(again.body).toMatchObject({ hostname: 'KXP2-CORO-001', reused: true });

    const released = await t.as.operator.post('/api/hostname/release', { hostname: 'kxp2-coro-001' });
    expect(released.body).toMatchObject({ success: true, entry: { hostname: 'KXP2-CORO-001', status: 'available' } });
    expect((await t.as.operator.post('/api/hostname/release', { hostname: 'KXP2-CORO-001' })).status).toBe(409);
    expect((await t.as.operator.post('/api/hostname/release', { hostname: 'KXP2-NONE-001' })).status).toBe(404);

    const two = await entryOf('KXP2-CORO-002');
    const retired = await t.as.operator.post(`/api/kart-numbers/${two.id}/retire`);
    expect(retired.body.entry.status).toBe('retired');
    expect((await t.as.operator.post(`/api/kart-numbers/${two.id}/retire`)).status).toBe(409);
    expect((await t.as.operator.post(`/api/kart-numbers/${two.id}/release`)).body.error).toMatch(/is retired, not assigned/);

    const three = await entryOf('KXP2-CORO-003');
    expect((await t.as.operator.delete(`/api/kart-numbers/${three.id}`)).body).toEqual({ success: true });
    expect(await entryOf('KXP2-CORO-003')).toBeUndefined();
    expect((await t.as.operator.delete(`/api/kart-numbers/${three.id}`)).status).toBe(404);

    const rxp = await t.as.operator.post('/api/hostname/assign', { product_type: 'RXP2', venue_code: 'CORO', serial_number: '10000000bbbb1234' });
    expect(rxp.body.hostname).toBe('RXP2-CORO-BBBB1234');
    const rxpEntry = rxp.body.entry;
    expect((await t.as.operator.post(`/api/kart-numbers/${rxpEntry.id}/release`)).status).toBe(200);
  });

  it.each([
    ['/api/hostname/assign', { product_type: 'KXP2', venue_code: 'CORO' }, /serial number or a MAC/],
    ['/api/hostname/assign', { product_type: 'RXP2', venue_code: 'CORO', mac_address: 'dc:a6:32:00:00:09' }, /made from the serial number/],
    ['/api/hostname/assign', { product_type: 'KXP2', venue_code: 'CORO', serial_number: 'x', mac_address: 'zz' }, /Field "mac_address" has the wrong format/],
    ['/api/hostname/assign', { venue_code: 'CORO', serial_number: 'x' }, /Field "product_type" is required/],
    ['/api/hostname/release', {}, /Field "hostname" is required/],
  ])('refuses %s %j', async (path, body, message) => {
    const answer = await t.as.operator.post(path, body);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatch(message);
  });

  it('refuses bad ids and filters', async () => {
    expect((await t.as.operator.post('/api/kart-numbers/abc/retire')).body.error).toMatch(/Field "id" must be a whole number/);
    expect((await t.as.operator.post('/api/kart-numbers/0/retire')).body.error).toMatch(/Field "id" must be >= 1/);
    expect((await t.as.viewer.get('/api/kart-numbers?status=lost')).body.error).toMatch(/Field "status" must be one of available, assigned, retired/);
    expect((await t.as.viewer.get('/api/kart-numbers?limit=100000')).status).toBe(400);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../test-support/test-server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
  await t.as.operator.post('/api/venues', { code: 'CORO', name: 'Coronado' });
  await t.as.operator.post('/api/venues', { code: 'ARIA', name: 'Aria' });
  await t.as.operator.post('/api/kart-numbers', { venue_code: 'CORO', numbers: '1-10' });
});
afterAll(async () => t.close());

const create = (body: Record<string, unknown>) => t.as.operator.post('/api/batches', body);

describe('batches API', () => {
  it('creates a batch, moves it through start, pause, start and cancel, and filters the list', async () => {
    const created = await create({ venue_code: 'coro', product_type: 'KXP2', total_count: 4, priority: 2, name: 'Morning', notes: 'row A' });
    expect(created.status).toBe(201);
    const id = created.body.batch.id;
    expect(created.body.batch).toMatchObject({ venue_code: 'CORO', status: 'pending', total_count: 4, remaining_count: 4, priority: 2, name: 'Morning' });
    expect((await t.as.viewer.get(`/api/batches/${id}`)).body.batch.id).toBe(id);
    expect((await t.as.operator.post(`/api/batches/${id}/start`)).body.batch).toMatchObject({ status: 'active', started_at: expect.any(String) });
    expect((await t.as.viewer.get('/api/batches/active')).body.batch.id).toBe(id);
    expect((await t.as.operator.post(`/api/batches/${id}/pause`)).body.batch.status).toBe('paused');
    expect((await t.as.viewer.get('/api/batches/active')).body).toEqual({ batch: null });
    expect((await t.as.viewer.get('/api/batches?venue=CORO&status=paused')).body.batches.map((b: { id: number }) => b.id)).toEqual([id]);
    expect((await t.as.viewer.get('/api/batches?venue=ARIA')).body.batches).toEqual([]);
    expect((await t.as.operator.post(`/api/batches/${id}/start`)).body.batch.status).toBe('active');
    expect((await t.as.operator.post(`/api/batches/${id}/cancel`)).body.batch.status).toBe('cancelled');
    const illegal = await t.as.operator.post(`/api/batches/${id}/start`);
    expect(illegal.status).toBe(409);
    expect(illegal.body).toMatchObject({ code: 'INVALID_TRANSITION', error: expect.stringMatching(/is cancelled/) });
  });

  it('checks KXP2 capacity against numbers promised to other open batches, and reports it', async () => {
    const first = await create({ venue_code: 'CORO', product_type: 'KXP2', total_count: 7 });
    expect(first.status).toBe(201);
    const capacity = await t.as.viewer.get('/api/batches/capacity?venue=coro&product=KXP2');
    expect(capacity.body).toEqual({ venue_code: 'CORO', product_type: 'KXP2', available: 10, reserved: 7, unreserved: 3, needs_pool: true });
    const tooMany = await create({ venue_code: 'CORO', product_type: 'KXP2', total_count: 4 });
    expect(tooMany.status).toBe(409);
    expect(tooMany.body).toMatchObject({ code: 'BATCH_CAPACITY', details: { unreserved: 3 } });
    expect((await create({ venue_code: 'ARIA', product_type: 'RXP2', total_count: 500 })).status).toBe(201);
    expect((await t.as.viewer.get('/api/batches/capacity?venue=ARIA&product=RXP2')).body.needs_pool).toBe(false);
    await t.as.operator.post(`/api/batches/${first.body.batch.id}/cancel`);
  });

  it('sets priorities directly and by reordering', async () => {
    const a = (await create({ venue_code: 'ARIA', product_type: 'RXP2', total_count: 1, priority: 0 })).body.batch;
    const b = (await create({ venue_code: 'ARIA', product_type: 'RXP2', total_count: 1, priority: 0 })).body.batch;
    const c = (await create({ venue_code: 'ARIA', product_type: 'RXP2', total_count: 1, priority: 0 })).body.batch;
    expect((await t.as.operator.put(`/api/batches/${a.id}/priority`, { priority: -5 })).body.batch.priority).toBe(-5);
    const reordered = await t.as.operator.post('/api/batches/reorder', { ids: [a.id, c.id, b.id] });
    expect(reordered.status).toBe(200);
    const priorities = Object.fromEntries(reordered.body.batches.map((batch: { id: number; priority: number }) => [batch.id, batch.priority]));
    expect(priorities[a.id]).toBeGreaterThan(priorities[c.id]);
    expect(priorities[c.id]).toBeGreaterThan(priorities[b.id]);
    expect((await t.as.operator.post('/api/batches/reorder', { ids: [a.id, a.id] })).body.error).toMatch(/only once/);
    expect((await t.as.operator.post('/api/batches/reorder', { ids: [a.id, 99999] })).status).toBe(404);
    expect((await t.as.operator.post('/api/batches/reorder', { ids: [] })).body.error).toMatch(/Field "ids" needs at least 1/);
  });

  it.each([
    [{ venue_code: 'CORO', product_type: 'KXP2' }, 400, /Field "total_count" is required/],
    [{ venue_code: 'CORO', product_type: 'KXP2', total_count: 0 }, 400, /Field "total_count" must be >= 1/],
    [{ venue_code: 'CORO', product_type: 'KXP2', total_count: 1.5 }, 400, /Field "total_count" must be a whole number/],
    [{ venue_code: 'CORO', product_type: 'KXP2', total_count: '3' }, 400, /Field "total_count" must be a whole number/],
    [{ venue_code: 'CORO', product_type: 'ABC1', total_count: 1 }, 400, /Field "product_type" must be one of KXP2, RXP2/],
    [{ venue_code: 'CORO', product_type: 'KXP2', total_count: 1, colour: 'red' }, 400, /Unknown field "colour"/],
    [{ venue_code: 'NOPE', product_type: 'RXP2', total_count: 1 }, 404, /no venue NOPE/],
  ])('refuses %j', async (body, status, message) => {
    const answer = await create(body);
    expect(answer.status).toBe(status);
    expect(answer.body.error).toMatch(message);
  });

  it('answers 404 for unknown batches and 400 for bad ids, priorities and filters', async () => {
    expect((await t.as.viewer.get('/api/batches/424242')).status).toBe(404);
    expect((await t.as.operator.post('/api/batches/424242/start')).status).toBe(404);
    expect((await t.as.viewer.get('/api/batches/abc')).status).toBe(400);
    expect((await t.as.operator.put('/api/batches/1/priority', { priority: 'high' })).body.error).toMatch(/Field "priority" must be a whole number/);
    expect((await t.as.operator.put('/api/batches/1/priority', {})).body.error).toMatch(/Field "priority" is required/);
    expect((await t.as.viewer.get('/api/batches?status=running')).status).toBe(400);
    expect((await t.as.viewer.get('/api/batches/capacity?venue=CORO')).body.error).toMatch(/Field "product" is required/);
  });
});

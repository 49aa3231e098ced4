import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCoreFixture, type CoreFixture } from './test-support/core-fixture.js';

describe('deployment batches', () => {
  let f: CoreFixture;
  beforeEach(() => {
    f = createCoreFixture();
    f.core.venues.create({ code: 'CORO', name: 'Coronado' });
    f.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-10' });
  });
  afterEach(() => f.close());

  const create = (count: number, priority = 0, product: 'KXP2' | 'RXP2' = 'KXP2') =>
    f.core.batches.create({ venue_code: 'coro', product_type: product, total_count: count, priority });

  it('starts pending with everything remaining', () => {
    const batch = create(4, 3);
    expect(batch).toMatchObject({ venue_code: 'CORO', status: 'pending', total_count: 4, remaining_count: 4, priority: 3, started_at: null });
    expect(f.eventsNamed('batch_created')).toEqual([{ batch_id: batch.id, batch }]);
  });

  it('moves pending → active ⇄ paused → cancelled, stamping times and announcing each', () => {
    const { id } = create(2);
    expect(f.core.batches.start(id)).toMatchObject({ status: 'active', started_at: '2026-06-15T10:00:00.000Z' });
    f.advance(60_000);
    expect(f.core.batches.pause(id).status).toBe('paused');
    expect(f.core.batches.start(id)).toMatchObject({ status: 'active', started_at: '2026-06-15T10:00:00.000Z' });
    expect(f.core.batches.cancel(id)).toMatchObject({ status: 'cancelled', completed_at: '2026-06-15T10:01:00.000Z' });
    expect(f.events.map((e) => e.name).filter((n) => n.startsWith('batch_'))).toEqual(['batch_created', 'batch_started', 'batch_paused', 'batch_started', 'batch_cancelled']);
  });

  it.each([
    ['pause', 'pending', /is pending; it can be paused only when active/],
    ['start', 'active', /is active; it can be started only when pending or paused/],
    ['start', 'cancelled', /is cancelled; it can be started/],
    ['cancel', 'cancelled', /is cancelled; it can be cancelled only when pending or active or paused/],
  ] as const)('refuses to %s a %s batch, naming its state', (action, state, message) => {
    const { id } = create(1);
    if (state === 'active') f.core.batches.start(id);
    if (state === 'cancelled') f.core.batches.cancel(id);
    expect(() => f.core.batches[action](id)).toThrow(message);
  });

  it('refuses a KXP2 batch larger than the unreserved pool, counting other open batches', () => {
    create(6);
    expect(() => create(5)).toThrow(/10 available kart numbers, 6 already promised to open batches: 4 left for this batch of 5/);
    expect(create(4).remaining_count).toBe(4);
    expect(() => create(1)).toThrow(/0 left/);
  });

  it('frees the reservation when a batch is cancelled', () => {
    const big = create(10);
    f.core.batches.cancel(big.id);
    expect(create(10).total_count).toBe(10);
  });

  it('needs no pool for RXP2', () => {
    expect(create(500, 0, 'RXP2').total_count).toBe(500);
  });

  it('refuses unknown venues and empty batches', () => {
    expect(() => f.core.batches.create({ venue_code: 'NOPE', product_type: 'RXP2', total_count: 1 })).toThrow(/no venue NOPE/);
    expect(() => create(0)).toThrow(/at least one device/);
  });

  it('serves the highest-priority active batch, the oldest on ties', () => {
    const low = create(1, -5);
    const tieOld = create(1, 7);
    f.advance(1000);
    const tieNew = create(1, 7);
    for (const b of [low, tieNew, tieOld]) f.core.batches.start(b.id);
    expect(f.core.batches.active()?.id).toBe(tieOld.id);
    f.core.batches.pause(tieOld.id);
    expect(f.core.batches.active()?.id).toBe(tieNew.id);
    f.core.batches.setPriority(low.id, 100);
    expect(f.core.batches.active()?.id).toBe(low.id);
  });

  it('lists by priority and filters by venue and status', () => {
    const a = create(1, 1);
    const b = create(1, 9, 'RXP2');
    f.core.batches.start(a.id);
    expect(f.core.batches.list().map((x) => x.id)).toEqual([b.id, a.id]);
    expect(f.core.batches.list({ status: 'active' }).map((x) => x.id)).toEqual([a.id]);
    expect(f.core.batches.list({ venue: 'aria' })).toEqual([]);
  });

  it('reorders by renumbering priorities so the given order holds', () => {
    const [a, b, c] = [create(1, 5), create(1, 3), create(1, 1)];
    const reordered = f.core.batches.reorder([c.id, a.id, b.id]);
    expect(reordered.map((x) => x.id)).toEqual([c.id, a.id, b.id]);
    expect(f.core.batches.list().map((x) => x.id)).toEqual([c.id, a.id, b.id]);
    expect(() => f.core.batches.reorder([a.id, a.id])).toThrow(/only once/);
    expect(() => f.core.batches.reorder([a.id, 999])).toThrow(/no batch 999/);
    expect(f.core.batches.list().map((x) => x.id)).toEqual([c.id, a.id, b.id]);
  });

  it('reports capacity for the create form', () => {
    create(3);
    expect(f.core.batches.capacity('coro', 'KXP2')).toEqual({ venue_code: 'CORO', product_type: 'KXP2', available: 10, reserved: 3, unreserved: 7, needs_pool: true });
    expect(f.core.batches.capacity('CORO', 'RXP2').needs_pool).toBe(false);
  });
});

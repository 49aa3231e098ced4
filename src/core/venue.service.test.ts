import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCoreFixture, type CoreFixture } from './test-support/core-fixture.js';

describe('venues', () => {
  let f: CoreFixture;
  beforeEach(() => void (f = createCoreFixture()));
  afterEach(() => f.close());

  it('stores the code upper-case and trims text', () => {
    const venue = f.core.venues.create({ code: 'coro', name: '  Coronado Raceway ', location: ' San Diego ', contact_email: 'ops@coro.example' });
    expect(venue).toMatchObject({ code: 'CORO', name: 'Coronado Raceway', location: 'San Diego', contact_email: 'ops@coro.example' });
    expect(f.core.venues.get('Coro').code).toBe('CORO');
    expect(f.eventsNamed('venue_changed')).toEqual([{ venue_code: 'CORO', deleted: false }]);
  });

  it.each([
    [{ code: 'COR', name: 'x' }, /exactly 4 letters or digits/],
    [{ code: 'CO-O', name: 'x' }, /exactly 4 letters or digits/],
    [{ code: 'CORO', name: '   ' }, /name is required/],
    [{ code: 'CORO', name: 'x'.repeat(101) }, /at most 100/],
    [{ code: 'CORO', name: 'x', contact_email: 'not-an-email' }, /not a valid address/],
  ])('rejects %j', (input, message) => {
    expect(() => f.core.venues.create(input)).toThrow(message);
    expect(f.core.venues.list()).toEqual([]);
  });

  it('refuses a second venue with the same code, whatever its case', () => {
    f.core.venues.create({ code: 'CORO', name: 'A' });
    expect(() => f.core.venues.create({ code: 'coro', name: 'B' })).toThrow(/already exists/);
  });

  it('edits name, location and email but never the code; empty text clears optional fields', () => {
    f.core.venues.create({ code: 'CORO', name: 'A', location: 'Here', contact_email: 'a@b.co' });
    const updated = f.core.venues.update('coro', { name: 'B', location: '', contact_email: null });
    expect(updated).toMatchObject({ code: 'CORO', name: 'B', location: null, contact_email: null });
    expect(() => f.core.venues.update('CORO', { contact_email: 'bad' })).toThrow(/not a valid address/);
    expect(f.core.venues.get('CORO').name).toBe('B');
  });

  it('answers not found for unknown venues', () => {
    expect(() => f.core.venues.get('NOPE')).toThrow(/no venue NOPE/);
    expect(() => f.core.venues.update('NOPE', { name: 'x' })).toThrow(/no venue NOPE/);
  });

  it('deletes a venue with only an unused pool, taking the pool with it', () => {
    f.core.venues.create({ code: 'CORO', name: 'A' });
    f.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-5' });
    f.core.venues.delete('coro');
    expect(f.core.venues.list()).toEqual([]);
    expect(f.core.pool.list({}).total).toBe(0);
  });

  it('refuses to delete a venue with assigned hostnames, open batches or history, naming each', () => {
    f.core.venues.create({ code: 'CORO', name: 'A' });
    f.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-5' });
    f.core.pool.assign({ venue_code: 'CORO', product_type: 'KXP2', serial_number: 'abc' });
    f.core.batches.create({ venue_code: 'CORO', product_type: 'KXP2', total_count: 2 });
    expect(() => f.core.venues.delete('CORO')).toThrow(/cannot be deleted: it has 1 assigned hostname, 1 open batch/);
    expect(f.core.venues.get('CORO')).toBeDefined();
  });

  it('reports pool statistics per product, with kart numbers not yet promised to batches', () => {
    f.core.venues.create({ code: 'CORO', name: 'A' });
    f.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-10' });
    f.core.pool.assign({ venue_code: 'CORO', product_type: 'KXP2', serial_number: 'k1' });
    f.core.pool.assign({ venue_code: 'CORO', product_type: 'RXP2', serial_number: '10000000deadbeef' });
    f.core.pool.retire(f.core.pool.list({ venue: 'CORO', status: 'available' }).items[0]!.id);
    f.core.batches.create({ venue_code: 'CORO', product_type: 'KXP2', total_count: 3 });
    const stats = f.core.venues.stats('CORO');
    expect(stats).toMatchObject({ available: 8, assigned: 2, retired: 1, total: 11, unreserved: 5 });
    expect(stats.by_product.KXP2).toEqual({ available: 8, assigned: 1, retired: 1, total: 10 });
    expect(stats.by_product.RXP2).toEqual({ available: 0, assigned: 1, retired: 0, total: 1 });
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../contracts/errors.js';
import { createCoreFixture, type CoreFixture } from './test-support/core-fixture.js';

describe('kart-number pool', () => {
  let f: CoreFixture;
  beforeEach(() => {
    f = createCoreFixture();
    f.core.venues.create({ code: 'CORO', name: 'Coronado' });
  });
  afterEach(() => f.close());

  const hostnames = () => f.core.pool.list({ venue: 'CORO', limit: 500 }).items.map((e) => e.hostname);

  it('imports ranges and lists, skipping and counting duplicates', () => {
    expect(f.core.pool.importKartNumbers({ venue_code: 'coro', numbers: '1-3, 7' })).toMatchObject({ added: 4, duplicates: 0 });
    expect(f.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '2-4\n4\n120, 1024' })).toMatchObject({ added: 3, duplicates: 3 });
    expect(hostnames()).toEqual(['KXP2-CORO-001', 'KXP2-CORO-002', 'KXP2-CORO-003', 'KXP2-CORO-004', 'KXP2-CORO-007', 'KXP2-CORO-120', 'KXP2-CORO-1024']);
    expect(f.eventsNamed('pool_changed').at(-1)).toEqual({ venue_code: 'CORO', counts: { available: 7, assigned: 0, retired: 0, total: 7 } });
  });

  it('imports nothing when any token is invalid', () => {
    expect(() => f.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-10, eleven' })).toThrow(/"eleven"/);
    expect(hostnames()).toEqual([]);
  });

  it('refuses imports for unknown venues', () => {
    expect(() => f.core.pool.importKartNumbers({ venue_code: 'NOPE', numbers: '1' })).toThrow(/no venue NOPE/);
  });

  it('releases an assigned number back to available and clears the device', () => {
    f.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-2' });
    const { entry } = f.core.pool.assign({ venue_code: 'CORO', product_type: 'KXP2', serial_number: 'abc', mac_address: 'AA:BB:CC:DD:EE:FF' });
    expect(entry).toMatchObject({ hostname: 'KXP2-CORO-001', status: 'assigned', serial_number: 'abc', mac_address: 'aa:bb:cc:dd:ee:ff' });
    const released = f.core.pool.releaseHostname('kxp2-coro-001');
    expect(released).toMatchObject({ status: 'available', serial_number: null, mac_address: null, assigned_at: null });
    expect(() => f.core.pool.release(released.id)).toThrow(/nothing to release/);
  });

  it('releasing an RXP2 name removes it, so the serial can be served again', () => {
    const first = f.core.pool.assign({ venue_code: 'CORO', product_type: 'RXP2', serial_number: '10000000abc12345' });
    f.core.pool.release(first.entry.id);
    expect(f.core.pool.list({ product: 'RXP2' }).total).toBe(0);
    expect(f.core.pool.assign({ venue_code: 'CORO', product_type: 'RXP2', serial_number: '10000000abc12345' }).entry.hostname).toBe('RXP2-CORO-ABC12345');
  });

  it('never hands out a retired number again', () => {
    f.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-2' });
    const [one] = f.core.pool.list({ venue: 'CORO' }).items;
    f.core.pool.retire(one!.id);
    expect(() => f.core.pool.retire(one!.id)).toThrow(/already retired/);
    expect(f.core.pool.assign({ venue_code: 'CORO', product_type: 'KXP2', serial_number: 'a' }).entry.hostname).toBe('KXP2-CORO-002');
    expect(() => f.core.pool.assign({ venue_code: 'CORO', product_type: 'KXP2', serial_number: 'b' })).toThrow(/No kart numbers are available/);
  });

  it('deletes only available numbers, and not those promised to open batches', () => {
    f.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-3' });
    const entries = f.core.pool.list({ venue: 'CORO' }).items;
    f.core.pool.assign({ venue_code: 'CORO', product_type: 'KXP2', serial_number: 'a' });
    expect(() => f.core.pool.delete(entries[0]!.id)).toThrow(/only available numbers can be deleted/);
    f.core.batches.create({ venue_code: 'CORO', product_type: 'KXP2', total_count: 2 });
    expect(() => f.core.pool.delete(entries[1]!.id)).toThrow(/needed by open batches/);
    f.core.batches.cancel(1);
    f.core.pool.delete(entries[1]!.id);
    expect(hostnames()).toEqual(['KXP2-CORO-001', 'KXP2-CORO-003']);
  });

  it('answers not found for unknown entries', () => {
    for (const action of [() => f.core.pool.release(99), () => f.core.pool.retire(99), () => f.core.pool.delete(99)]) {
      expect(action).toThrow(AppError);
      expect(action).toThrow(/no pool entry 99/);
    }
    expect(() => f.core.pool.releaseHostname('KXP2-CORO-999')).toThrow(/no hostname/);
  });

  it('filters and searches the list with server-side paging', () => {
    f.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-30' });
    f.core.pool.assign({ venue_code: 'CORO', product_type: 'KXP2', serial_number: 'feedface01' });
    expect(f.core.pool.list({ status: 'assigned' }).items.map((e) => e.hostname)).toEqual(['KXP2-CORO-001']);
    expect(f.core.pool.list({ search: 'FACE0' }).total).toBe(1);
    expect(f.core.pool.list({ search: '%' }).total).toBe(0);
    const page2 = f.core.pool.list({ venue: 'CORO', page: 2, limit: 10 });
    expect(page2).toMatchObject({ total: 30, page: 2, limit: 10 });
    expect(page2.items[0]!.hostname).toBe('KXP2-CORO-011');
  });
});

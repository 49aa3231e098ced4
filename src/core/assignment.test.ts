import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCoreFixture, type CoreFixture } from './test-support/core-fixture.js';

describe('hostname assignment', () => {
  let f: CoreFixture;
  beforeEach(() => {
    f = createCoreFixture();
    f.core.venues.create({ code: 'CORO', name: 'Coronado' });
    f.core.venues.create({ code: 'ARIA', name: 'Aria' });
  });
  afterEach(() => f.close());

  const assign = (serial: string | null, product: 'KXP2' | 'RXP2' = 'KXP2', venue = 'CORO', mac: string | null = null) =>
    f.core.pool.assign({ venue_code: venue, product_type: product, serial_number: serial, mac_address: mac });

  it('hands out the lowest available kart number in numeric, not text, order', () => {
    f.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '100, 9, 20, 1024' });
    expect([assign('a'), assign('b'), assign('c'), assign('d')].map((r) => r.entry.hostname)).toEqual([
      'KXP2-CORO-009', 'KXP2-CORO-020', 'KXP2-CORO-100', 'KXP2-CORO-1024',
    ]);
  });

  it('fills a released gap before higher numbers', () => {
    f.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-3' });
    const first = assign('a');
    assign('b');
    f.core.pool.release(first.entry.id);
    expect(assign('c').entry.hostname).toBe('KXP2-CORO-001');
  });

  it('gives a device that asks again the hostname it holds, by serial', () => {
    f.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-3' });
    const first = assign('10000000ABCDEF01');
    const again = assign('10000000abcdef01');
    expect(again).toMatchObject({ reused: true, entry: { hostname: first.entry.hostname } });
    expect(f.core.venues.stats('CORO').by_product.KXP2.assigned).toBe(1);
    expect(f.eventsNamed('hostname_assigned')).toHaveLength(1);
  });

  it('recognises a device without a serial by its MAC, in any notation', () => {
    f.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-3' });
    const first = assign(null, 'KXP2', 'CORO', 'DC:A6:32:01:02:03');
    expect(assign(null, 'KXP2', 'CORO', 'dc-a6-32-01-02-03')).toMatchObject({ reused: true, entry: { hostname: first.entry.hostname } });
  });

  it('refuses a device with neither serial nor MAC', () => {
    f.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1' });
    expect(() => assign(null)).toThrow(/serial number or a MAC address/);
    expect(f.core.venues.stats('CORO').assigned).toBe(0);
  });

  it.each([['not a serial!'], ['x'.repeat(65)]])('refuses a malformed serial %j', (serial) => {
    expect(() => assign(serial, 'RXP2')).toThrow(/letters and digits/);
  });

  it('refuses a malformed MAC', () => {
    expect(() => assign(null, 'KXP2', 'CORO', 'dc:a6:32')).toThrow(/not of the form/);
  });

  it('answers a clear error, assigning nothing, when the pool is empty or exhausted', () => {
    expect(() => assign('a')).toThrow(/No kart numbers are available at CORO/);
    f.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1' });
    assign('a');
    expect(() => assign('b')).toThrow(/No kart numbers are available at CORO/);
  });

  it('does not take kart numbers promised to open batches', () => {
    f.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-3' });
    f.core.batches.create({ venue_code: 'CORO', product_type: 'KXP2', total_count: 2 });
    assign('a');
    expect(() => assign('b')).toThrow(/reserved by open batches/);
  });

  it('derives RXP2 names from the serial, with no pool needed', () => {
    expect(assign('10000000abc12345', 'RXP2', 'ARIA').entry).toMatchObject({ hostname: 'RXP2-ARIA-ABC12345', kart_number: null, status: 'assigned' });
  });

  it('requires a serial for RXP2', () => {
    expect(() => assign(null, 'RXP2', 'ARIA', 'dc:a6:32:01:02:03')).toThrow(/made from the serial number/);
  });

  it('refuses two serials that end alike instead of giving both one name', () => {
    assign('aaaaaaaa12345678', 'RXP2', 'ARIA');
    expect(() => assign('bbbbbbbb12345678', 'RXP2', 'ARIA')).toThrow(/already held by another device/);
  });

  it('keeps a device to one hostname across venues and products', () => {
    f.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-3' });
    const first = assign('abc123', 'KXP2', 'CORO');
    expect(assign('abc123', 'RXP2', 'ARIA')).toMatchObject({ reused: true, entry: { hostname: first.entry.hostname } });
  });

  it('announces new assignments with the device identity', () => {
    f.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '5' });
    assign('abc', 'KXP2', 'CORO', 'dc:a6:32:01:02:03');
    expect(f.eventsNamed('hostname_assigned')).toEqual([
      expect.objectContaining({ hostname: 'KXP2-CORO-005', venue_code: 'CORO', product_type: 'KXP2', serial_number: 'abc', mac_address: 'dc:a6:32:01:02:03', batch_id: null }),
    ]);
    expect(f.eventsNamed('stats_update').at(-1)).toMatchObject({ total_devices: 1 });
  });
});

// A device is one device whichever of its identifiers it sends (issue #16): every combination of what it sends
// and what the pool already knows, through the manual assignment and through a device asking under a batch.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCoreFixture, type CoreFixture } from './test-support/core-fixture.js';
import { tinyDiskImage } from '../disk-layout/test-support/tiny-disk-image.js';

const SERIAL = '10000000aaaa0001';
const OTHER_SERIAL = '10000000bbbb0002';
const MAC = 'dc:a6:32:00:00:01';

describe('recognising a device by serial, MAC or both', () => {
  let f: CoreFixture;
  beforeEach(() => {
    f = createCoreFixture();
    f.core.venues.create({ code: 'CORO', name: 'Coronado' });
    f.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-9' });
  });
  afterEach(() => f.close());

  const assign = (serial: string | null, mac: string | null) =>
    f.core.pool.assign({ venue_code: 'CORO', product_type: 'KXP2', serial_number: serial, mac_address: mac });
  const assigned = () => f.core.venues.stats('CORO').by_product.KXP2.assigned;

  // [known as (first request), asks as (second request), same hostname?]
  const cases: Array<[string, [string | null, string | null], [string | null, string | null], boolean]> = [
    ['serial only, asks again with serial only', [SERIAL, null], [SERIAL, null], true],
    ['MAC only, asks again with MAC only', [null, MAC], [null, MAC], true],
    ['both, asks again with both', [SERIAL, MAC], [SERIAL, MAC], true],
    ['MAC only, asks again with both (the defect: it got -002)', [null, MAC], [SERIAL, MAC], true],
    ['serial only, asks again with both', [SERIAL, null], [SERIAL, MAC], true],
    ['both, asks again with MAC only', [SERIAL, MAC], [null, MAC], true],
    ['both, asks again with serial only', [SERIAL, MAC], [SERIAL, null], true],
    ['serial only, asks again with MAC only (nothing links them)', [SERIAL, null], [null, MAC], false],
    ['MAC only, asks again with serial only (nothing links them)', [null, MAC], [SERIAL, null], false],
    ['another board (other serial) with the same MAC', [OTHER_SERIAL, MAC], [SERIAL, MAC], false],
  ];

  it.each(cases)('known by %s', (_name, first, second, same) => {
    const a = assign(...first);
    const b = assign(...second);
    expect(b.reused).toBe(same);
    expect(b.entry.hostname === a.entry.hostname).toBe(same);
    expect(assigned()).toBe(same ? 1 : 2);
  });

  it('records the identifier it learns, so either one alone finds the device afterwards', () => {
    const first = assign(null, MAC);
    expect(assign(SERIAL, MAC).entry).toMatchObject({ hostname: first.entry.hostname, serial_number: SERIAL, mac_address: MAC });
    expect(assign(SERIAL, null).entry.hostname).toBe(first.entry.hostname);
    expect(assign(null, MAC).entry.hostname).toBe(first.entry.hostname);
    const second = assign(OTHER_SERIAL, null);
    expect(assign(OTHER_SERIAL, 'dc:a6:32:00:00:02').entry).toMatchObject({ hostname: second.entry.hostname, mac_address: 'dc:a6:32:00:00:02' });
    expect(assign(null, 'dc:a6:32:00:00:02').entry.hostname).toBe(second.entry.hostname);
    expect(assigned()).toBe(2);
  });

  it('resolves an identity that matches two holders to the serial\'s, leaving the other one as it is', () => {
    // Two holders from before the fix: one by serial alone, one by MAC alone.
    const bySerial = assign(SERIAL, null);
    const byMac = assign(null, MAC);
    expect(bySerial.entry.hostname).not.toBe(byMac.entry.hostname);
    const both = assign(SERIAL, MAC);
    expect(both).toMatchObject({ reused: true, entry: { hostname: bySerial.entry.hostname } });
    // The MAC is not copied onto the serial's entry while another holds it, and the other holder is not released.
    expect(both.entry.mac_address).toBeNull();
    expect(assign(null, MAC).entry.hostname).toBe(byMac.entry.hostname);
    expect(assigned()).toBe(2);
  });

  it('decrements a batch once for a board that asks first with its MAC, then with serial and MAC', async () => {
    writeFileSync(join(f.dir, 'kxp.img'), tinyDiskImage(Buffer.alloc(4096 - 512, 7)));
    const image = await f.core.images.registerFile({ product_type: 'KXP2', version: '1' }, join(f.dir, 'kxp.img'));
    f.core.images.activate(image.id);
    const batch = f.core.batches.create({ venue_code: 'CORO', product_type: 'KXP2', total_count: 5 });
    f.core.batches.start(batch.id);
    const first = f.core.deployments.requestConfig({ mac_address: MAC }, null);
    const second = f.core.deployments.requestConfig({ serial_number: SERIAL.toUpperCase(), mac_address: MAC.toUpperCase() }, null);
    expect(first.deployment.hostname).toBe('KXP2-CORO-001');
    expect(second).toMatchObject({ reused: true, deployment: { hostname: 'KXP2-CORO-001' } });
    expect(f.core.batches.get(batch.id).remaining_count).toBe(4);
    expect(f.eventsNamed('hostname_assigned')).toHaveLength(1);
  });
});

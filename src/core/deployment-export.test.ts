import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCoreFixture, type CoreFixture } from './test-support/core-fixture.js';
import { tinyDiskImage } from '../disk-layout/test-support/tiny-disk-image.js';

describe('deployment export', () => {
  let f: CoreFixture;
  beforeEach(async () => {
    f = createCoreFixture();
    f.core.venues.create({ code: 'ARIA', name: 'Aria' });
    writeFileSync(join(f.dir, 'rxp.img'), tinyDiskImage(Buffer.alloc(16)));
    const image = await f.core.images.registerFile({ product_type: 'RXP2', version: '1' }, join(f.dir, 'rxp.img'));
    f.core.images.activate(image.id);
    for (let n = 1; n <= 7; n++) f.core.deployments.requestConfig({ venue_code: 'ARIA', product_type: 'RXP2', serial_number: `1000000000000${n}` }, null);
  });
  afterEach(() => f.close());

  it('lets devices be served while an export is half read', () => {
    const rows = f.core.deployments.iterate({}, 3)[Symbol.iterator]();
    const first = rows.next();
    expect(first.done).toBe(false);
    // A device asking mid-export needs a write on the same connection.
    const late = f.core.deployments.requestConfig({ venue_code: 'ARIA', product_type: 'RXP2', serial_number: '99999999' }, null);
    expect(late.deployment.hostname).toBe('RXP2-ARIA-99999999');
  });

  it('yields every matching row exactly once, newest first, across pages', () => {
    const ids = [...f.core.deployments.iterate({ venue: 'aria' }, 3)].map((d) => d.id);
    expect(ids).toHaveLength(7);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(new Set(ids).size).toBe(7);
    expect([...f.core.deployments.iterate({ status: 'completed' }, 3)]).toHaveLength(0);
  });
});

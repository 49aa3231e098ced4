import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCoreFixture, type CoreFixture } from './test-support/core-fixture.js';
import type { AssignResult } from './test-support/assign-worker.js';
import { runAssignWorkers } from './test-support/run-assign-workers.js';
import { tinyDiskImage } from '../disk-layout/test-support/tiny-disk-image.js';

const WORKERS = 4;

/** Every assertion the issue asks of concurrent assignment, over all workers' results together. */
function checkNoDoubleAssignment(results: AssignResult[]) {
  const assigned = results.flatMap((r) => r.assigned);
  const bySerial = new Map<string, Set<string>>();
  for (const { serial, hostname } of assigned) bySerial.set(serial, (bySerial.get(serial) ?? new Set()).add(hostname));
  for (const [serial, names] of bySerial) expect(names.size, `device ${serial} got ${[...names].join(', ')}`).toBe(1);
  const fresh = assigned.filter((a) => !a.reused).map((a) => a.hostname);
  expect(new Set(fresh).size, 'a hostname was handed out twice').toBe(fresh.length);
  return { fresh, bySerial };
}

describe('hostname assignment from several processes on one database file', () => {
  let f: CoreFixture;
  beforeEach(async () => {
    f = createCoreFixture();
    f.core.venues.create({ code: 'CORO', name: 'Coronado' });
    writeFileSync(join(f.dir, 'kxp.img'), tinyDiskImage('image'));
    f.core.images.activate((await f.core.images.registerFile({ product_type: 'KXP2', version: '1' }, join(f.dir, 'kxp.img'))).id);
  });
  afterEach(() => f.close());

  const job = (serials: string[], mode: 'config' | 'pool') => ({ database: join(f.dir, 'pitcrew.db'), imagesDir: f.core.imageStore.root, serials, mode, venue: 'CORO' });

  it('serves a batch exactly to its size, never below zero, one hostname per device, even when devices ask twice at once', async () => {
    f.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-200' });
    const batch = f.core.batches.create({ venue_code: 'CORO', product_type: 'KXP2', total_count: 150 });
    f.core.batches.start(batch.id);
    // 4 × 60 requests from 200 devices: devices 0–39 ask from two processes at the same time.
    const serials = (w: number) => Array.from({ length: 60 }, (_, i) => `10000000${String(w * 40 + i).padStart(8, '0')}`);
    const results = await runAssignWorkers(Array.from({ length: WORKERS }, (_, w) => job(serials(w), 'config')));

    const { fresh, bySerial } = checkNoDoubleAssignment(results);
    expect(fresh).toHaveLength(150);
    expect(bySerial.size).toBe(150);
    // Every name is out, every device still imaging: the batch is active until they finish, and counts each once.
    expect(f.core.batches.get(batch.id)).toMatchObject({ status: 'active', remaining_count: 0, handed_out_count: 150, imaging_count: 150 });
    const refused = results.reduce((n, r) => n + (r.errors.NO_ACTIVE_BATCH ?? 0), 0);
    const reused = results.flatMap((r) => r.assigned).filter((a) => a.reused).length;
    expect(150 + reused + refused).toBe(WORKERS * 60);
    expect(f.core.venues.stats('CORO').by_product.KXP2).toMatchObject({ assigned: 150, available: 50 });
  });

  it('hands out a venue pool exactly once when devices outnumber numbers', async () => {
    f.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-100' });
    const results = await runAssignWorkers(Array.from({ length: WORKERS }, (_, w) => job(Array.from({ length: 40 }, (_, i) => `ab${w}x${i}`), 'pool')));
    const { fresh } = checkNoDoubleAssignment(results);
    expect(fresh).toHaveLength(100);
    expect(results.reduce((n, r) => n + (r.errors.POOL_EXHAUSTED ?? 0), 0)).toBe(60);
    expect(f.core.pool.list({ status: 'available' }).total).toBe(0);
  });
});

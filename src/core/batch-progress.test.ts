import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StatusRequest } from '../contracts/device-api.js';
import { createCoreFixture, type CoreFixture } from './test-support/core-fixture.js';
import { tinyDiskImage } from '../disk-layout/test-support/tiny-disk-image.js';

describe('batch device counts and completion', () => {
  let f: CoreFixture;
  beforeEach(async () => {
    f = createCoreFixture();
    f.core.venues.create({ code: 'CORO', name: 'Coronado' });
    f.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-10' });
    writeFileSync(join(f.dir, 'kxp.img'), tinyDiskImage('kxp'));
    f.core.images.activate((await f.core.images.registerFile({ product_type: 'KXP2', version: '1' }, join(f.dir, 'kxp.img'))).id);
  });
  afterEach(() => f.close());

  const startBatch = (total: number, priority = 0) => {
    const batch = f.core.batches.create({ venue_code: 'CORO', product_type: 'KXP2', total_count: total, priority });
    return f.core.batches.start(batch.id);
  };
  const ask = (serial: string) => f.core.deployments.requestConfig({ serial_number: serial }, '10.0.0.9').deployment;
  const report = (deploymentId: number, status: StatusRequest['status']) => f.core.deployments.report({ deployment_id: deploymentId, status }, '10.0.0.9');
  const countsOf = (id: number) => {
    const { handed_out_count, imaging_count, succeeded_count, failed_count, status } = f.core.batches.get(id);
    return { status, handed_out_count, imaging_count, succeeded_count, failed_count };
  };

  it('completes a batch when its last device finishes, not when its last name is handed out', () => {
    const batch = startBatch(2);
    const a = ask('10000000000a0001');
    const b = ask('10000000000a0002');
    expect(countsOf(batch.id)).toEqual({ status: 'active', handed_out_count: 2, imaging_count: 2, succeeded_count: 0, failed_count: 0 });
    report(a.id, 'downloading');
    report(a.id, 'completed');
    expect(countsOf(batch.id)).toEqual({ status: 'active', handed_out_count: 2, imaging_count: 1, succeeded_count: 1, failed_count: 0 });
    expect(f.eventsNamed('batch_completed')).toEqual([]);
    report(b.id, 'failed');
    expect(countsOf(batch.id)).toEqual({ status: 'completed', handed_out_count: 2, imaging_count: 0, succeeded_count: 1, failed_count: 1 });
    expect(f.eventsNamed('batch_completed')).toEqual([{ batch_id: batch.id, batch: f.core.batches.get(batch.id) }]);
    expect(f.eventsNamed('batch_progress').at(-1)).toMatchObject({ batch_id: batch.id, status: 'completed', imaging_count: 0, succeeded_count: 1, failed_count: 1 });
  });

  it('announces progress only when a device moves between imaging and an outcome, not on every report', () => {
    const batch = startBatch(1);
    const a = ask('10000000000a0001');
    const before = f.eventsNamed('batch_progress').length;
    report(a.id, 'downloading');
    report(a.id, 'verifying');
    expect(f.eventsNamed('batch_progress')).toHaveLength(before);
    report(a.id, 'completed');
    expect(f.eventsNamed('batch_progress')).toHaveLength(before + 1);
    expect(countsOf(batch.id).status).toBe('completed');
  });

  it('serves the next batch once the top one has handed out its names, while the top one still images', () => {
    const top = startBatch(1, 5);
    const next = startBatch(2, 0);
    expect(f.core.batches.active()?.id).toBe(top.id);
    expect(ask('10000000000a0001').batch_id).toBe(top.id);
    expect(f.core.batches.active()?.id).toBe(next.id);
    expect(ask('10000000000a0002').batch_id).toBe(next.id);
    expect(countsOf(top.id)).toMatchObject({ status: 'active', imaging_count: 1 });
  });

  it('counts a device once, by its latest attempt, when it asks again or is re-imaged after a failure', () => {
    const batch = startBatch(2);
    const first = ask('10000000000a0001');
    // Asked again while imaging: the old record is superseded, the device is still one device imaging.
    const second = ask('10000000000a0001');
    expect(f.core.deployments.get(first.id).status).toBe('superseded');
    expect(countsOf(batch.id)).toMatchObject({ handed_out_count: 1, imaging_count: 1, failed_count: 0 });
    report(second.id, 'failed');
    expect(countsOf(batch.id)).toMatchObject({ imaging_count: 0, failed_count: 1 });
    // Re-imaged after the failure: imaging again, no longer counted failed.
    const third = ask('10000000000a0001');
    expect(third.batch_id).toBe(batch.id);
    expect(countsOf(batch.id)).toMatchObject({ handed_out_count: 1, imaging_count: 1, failed_count: 0, succeeded_count: 0 });
    report(third.id, 'completed');
    expect(countsOf(batch.id)).toMatchObject({ imaging_count: 0, failed_count: 0, succeeded_count: 1, status: 'active' });
  });

  it('counts devices failed by the stale sweep, completing their batch', () => {
    const batch = startBatch(1);
    ask('10000000000a0001');
    f.advance(11 * 60_000);
    expect(f.core.deployments.sweepStale(10 * 60_000)).toHaveLength(1);
    expect(countsOf(batch.id)).toEqual({ status: 'completed', handed_out_count: 1, imaging_count: 0, succeeded_count: 0, failed_count: 1 });
  });

  it('completes a batch paused after its last name, whose devices finished meanwhile, when it is started again', () => {
    const batch = startBatch(1);
    const a = ask('10000000000a0001');
    f.core.batches.pause(batch.id);
    report(a.id, 'completed');
    expect(countsOf(batch.id)).toMatchObject({ status: 'paused', succeeded_count: 1 });
    expect(f.core.batches.start(batch.id)).toMatchObject({ status: 'completed', succeeded_count: 1 });
    expect(f.eventsNamed('batch_completed').map((e) => e.batch_id)).toEqual([batch.id]);
  });

  it('lists every batch with its own counts', () => {
    const one = startBatch(1, 1);
    const two = startBatch(2, 0);
    report(ask('10000000000a0001').id, 'completed');
    ask('10000000000a0002');
    const listed = new Map(f.core.batches.list().map((b) => [b.id, b]));
    expect(listed.get(one.id)).toMatchObject({ handed_out_count: 1, succeeded_count: 1, imaging_count: 0, status: 'completed' });
    expect(listed.get(two.id)).toMatchObject({ handed_out_count: 1, succeeded_count: 0, imaging_count: 1, status: 'active' });
  });
});

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConfigRequest, StatusRequest } from '../contracts/device-api.js';
import { deploymentCsvLines } from './deployment-csv.js';
import { createCoreFixture, type CoreFixture } from './test-support/core-fixture.js';
import { tinyDiskImage } from '../disk-layout/test-support/tiny-disk-image.js';

describe('deployments', () => {
  let f: CoreFixture;
  beforeEach(async () => {
    f = createCoreFixture();
    f.core.venues.create({ code: 'CORO', name: 'Coronado' });
    f.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-5' });
    writeFileSync(join(f.dir, 'kxp.img'), tinyDiskImage(Buffer.alloc(4096 - 512, 7)));
    const image = await f.core.images.registerFile({ product_type: 'KXP2', version: '2.0.0' }, join(f.dir, 'kxp.img'));
    f.core.images.activate(image.id);
  });
  afterEach(() => f.close());

  const ask = (request: Partial<ConfigRequest>) => f.core.deployments.requestConfig({ venue_code: 'CORO', product_type: 'KXP2', ...request }, '10.0.0.9');
  const report = (request: Partial<StatusRequest> & Pick<StatusRequest, 'status'>) => f.core.deployments.report(request, '10.0.0.9');

  it('gives a device its hostname, the active image and a new deployment record', () => {
    const config = ask({ serial_number: '10000000aaaa0001', mac_address: 'dc:a6:32:00:00:01' });
    expect(config.reused).toBe(false);
    expect(config.image).toMatchObject({ version: '2.0.0', size_bytes: 4096 });
    expect(config.deployment).toMatchObject({
      hostname: 'KXP2-CORO-001', status: 'assigned', product_type: 'KXP2', venue_code: 'CORO', serial_number: '10000000aaaa0001',
      image_version: '2.0.0', image_checksum: config.image.sha256, bytes_total: 4096, ip_address: '10.0.0.9', batch_id: null,
    });
    expect(f.eventsNamed('deployment_status').at(-1)).toMatchObject({ deployment_id: config.deployment.id, status: 'assigned', progress: 0 });
    expect(f.core.stats()).toEqual({ active_deployments: 1, completed_today: 0, failed_today: 0, total_devices: 1 });
  });

  it('serves from the highest-priority active batch, whatever venue the device names, decrementing once per device', () => {
    f.core.venues.create({ code: 'ARIA', name: 'Aria' });
    writeFileSync(join(f.dir, 'rxp.img'), tinyDiskImage(Buffer.alloc(10)));
    return f.core.images.registerFile({ product_type: 'RXP2', version: '1' }, join(f.dir, 'rxp.img')).then((rxp) => {
      f.core.images.activate(rxp.id);
      const kxp = f.core.batches.create({ venue_code: 'CORO', product_type: 'KXP2', total_count: 2, priority: 1 });
      const rx = f.core.batches.create({ venue_code: 'ARIA', product_type: 'RXP2', total_count: 1, priority: 5 });
      f.core.batches.start(kxp.id);
      f.core.batches.start(rx.id);
      const first = ask({ venue_code: null, product_type: null, serial_number: '10000000bbbb0001' });
      expect(first.deployment).toMatchObject({ hostname: 'RXP2-ARIA-BBBB0001', batch_id: rx.id });
      // Its names are gone but its device is imaging: still active, serving nobody, not completed.
      expect(f.core.batches.get(rx.id)).toMatchObject({ status: 'active', remaining_count: 0, handed_out_count: 1, imaging_count: 1 });
      expect(f.eventsNamed('batch_completed')).toEqual([]);
      const second = ask({ venue_code: null, serial_number: '10000000bbbb0002' });
      expect(second.deployment).toMatchObject({ hostname: 'KXP2-CORO-001', batch_id: kxp.id });
      const again = ask({ venue_code: null, serial_number: '10000000bbbb0002' });
      // Asking again keeps the device in the batch that gave it its name, and consumes nothing.
      expect(again).toMatchObject({ reused: true, deployment: { hostname: 'KXP2-CORO-001', batch_id: kxp.id } });
      expect(f.core.batches.get(kxp.id)).toMatchObject({ remaining_count: 1, handed_out_count: 1, imaging_count: 1 });
      const counts = { succeeded_count: 0, failed_count: 0 };
      expect(f.eventsNamed('batch_progress')).toEqual([
        { batch_id: rx.id, status: 'active', total_count: 1, remaining_count: 0, handed_out_count: 1, imaging_count: 1, ...counts },
        { batch_id: kxp.id, status: 'active', total_count: 2, remaining_count: 1, handed_out_count: 1, imaging_count: 1, ...counts },
        { batch_id: kxp.id, status: 'active', total_count: 2, remaining_count: 1, handed_out_count: 1, imaging_count: 1, ...counts },
      ]);
      report({ status: 'completed', deployment_id: first.deployment.id });
      expect(f.core.batches.get(rx.id)).toMatchObject({ status: 'completed', imaging_count: 0, succeeded_count: 1, completed_at: expect.any(String) });
      expect(f.eventsNamed('batch_completed').map((e) => e.batch_id)).toEqual([rx.id]);
    });
  });

  it('checks the active image before consuming a hostname', async () => {
    f.core.venues.create({ code: 'ARIA', name: 'Aria' });
    const batch = f.core.batches.create({ venue_code: 'ARIA', product_type: 'RXP2', total_count: 3 });
    f.core.batches.start(batch.id);
    expect(() => ask({ serial_number: '10000000cccc0001' })).toThrow(/No RXP2 master image is active/);
    expect(f.core.batches.get(batch.id).remaining_count).toBe(3);
    expect(f.core.venues.stats('ARIA').assigned).toBe(0);
    expect(f.core.deployments.list({}).total).toBe(0);
  });

  it.each([
    [{ venue_code: null }, /No deployment batch is active and the device did not name a venue/],
    [{ product_type: null }, /no product type/],
    [{ venue_code: 'NOPE' }, /no venue NOPE/],
    [{ serial_number: null, mac_address: null }, /neither a serial number nor a MAC/],
  ])('refuses %j with a clear error and no placeholder hostname', (request, message) => {
    expect(() => ask({ serial_number: '10000000dddd0001', ...request })).toThrow(message);
    expect(f.core.venues.stats('CORO').assigned).toBe(0);
  });

  it('answers an exhausted pool with a clear error', () => {
    for (let i = 1; i <= 5; i++) ask({ serial_number: `1000000000000${i}` });
    expect(() => ask({ serial_number: '10000000000009' })).toThrow(/No kart numbers are available at CORO/);
    expect(f.core.deployments.list({}).total).toBe(5);
  });

  it('keeps the time left the device reports for its phase, and forgets it with the phase', () => {
    const { deployment } = ask({ serial_number: 'eta1' });
    const id = deployment.id;
    expect(f.core.deployments.get(id).eta_s).toBeNull();
    expect(report({ status: 'downloading', deployment_id: id, bytes_done: 1024, bytes_total: 4096, rate_bps: 1024, eta_s: 3 })).toMatchObject({ eta_s: 3 });
    // A report without one (an older installer, a keep-alive) leaves it; a new phase without one clears it.
    expect(report({ status: 'downloading', deployment_id: id, bytes_done: 2048 }).eta_s).toBe(3);
    expect(report({ status: 'downloading', deployment_id: id, eta_s: 0 }).eta_s).toBe(0);
    expect(report({ status: 'verifying', deployment_id: id }).eta_s).toBeNull();
    expect(report({ status: 'verifying', deployment_id: id, eta_s: 40 }).eta_s).toBe(40);
    expect(report({ status: 'completed', deployment_id: id, eta_s: 5 }).eta_s).toBeNull();
  });

  it('moves through its states with progress, accepting the original installer\'s words', () => {
    const { deployment } = ask({ serial_number: 'abc1' });
    expect(report({ status: 'starting', deployment_id: deployment.id }).status).toBe('assigned');
    f.advance(1000);
    expect(report({ status: 'downloading', deployment_id: deployment.id, bytes_done: 1024, bytes_total: 4096, rate_bps: 1024 })).toMatchObject({ status: 'downloading', progress: 25, bytes_done: 1024, rate_bps: 1024 });
    expect(report({ status: 'downloading', deployment_id: deployment.id, progress: 80 }).progress).toBe(80);
    expect(report({ status: 'verifying', hostname: 'KXP2-CORO-001', serial: 'ABC1' }).status).toBe('verifying');
    expect(report({ status: 'customizing', deployment_id: deployment.id }).status).toBe('customizing');
    f.advance(1000);
    const done = report({ status: 'success', hostname: 'KXP2-CORO-001', error_message: null });
    expect(done).toMatchObject({ status: 'completed', progress: 100, bytes_done: 4096, completed_at: '2026-06-15T10:00:02.000Z', error_message: null });
    expect(f.core.stats()).toMatchObject({ active_deployments: 0, completed_today: 1 });
  });

  it('keeps final states final', () => {
    const { deployment } = ask({ serial_number: 'abc1' });
    report({ status: 'failed', deployment_id: deployment.id, error_message: 'SD card write error' });
    expect(f.core.deployments.get(deployment.id)).toMatchObject({ status: 'failed', error_message: 'SD card write error' });
    expect(() => report({ status: 'downloading', deployment_id: deployment.id, progress: 50 })).toThrow(/already failed; the report was ignored/);
    expect(() => report({ status: 'completed', deployment_id: deployment.id })).toThrow(/already failed/);
    expect(f.core.deployments.get(deployment.id).status).toBe('failed');
  });

  it('records a failure without a reason as such', () => {
    const { deployment } = ask({ serial_number: 'abc1' });
    expect(report({ status: 'failed', deployment_id: deployment.id }).error_message).toMatch(/without saying why/);
  });

  it('refuses reports that match nothing or contradict themselves', () => {
    const { deployment } = ask({ serial_number: 'abc1' });
    expect(() => report({ status: 'downloading', deployment_id: 999 })).toThrow(/No deployment matches deployment 999/);
    expect(() => report({ status: 'downloading', hostname: 'KXP2-CORO-005' })).toThrow(/No deployment matches hostname/);
    expect(() => report({ status: 'downloading' })).toThrow(/must name its deployment_id, hostname, serial or MAC/);
    expect(() => report({ status: 'downloading', deployment_id: deployment.id, hostname: 'KXP2-CORO-002' })).toThrow(/belongs to KXP2-CORO-001/);
  });

  it('closes an unfinished deployment as superseded when the device asks again', () => {
    const first = ask({ serial_number: 'abc1' });
    report({ status: 'downloading', deployment_id: first.deployment.id, progress: 40 });
    const second = ask({ serial_number: 'abc1' });
    expect(second.deployment.id).not.toBe(first.deployment.id);
    expect(f.core.deployments.get(first.deployment.id)).toMatchObject({ status: 'superseded', error_message: null, message: expect.stringMatching(/Superseded/), completed_at: expect.any(String) });
    expect(f.eventsNamed('deployment_status').find((e) => e.deployment_id === first.deployment.id && e.status === 'superseded')).toBeDefined();
    expect(f.core.stats()).toEqual({ active_deployments: 1, completed_today: 0, failed_today: 0, total_devices: 1 });
    // A superseded record is final: a late report to it is refused like any other.
    expect(() => report({ status: 'downloading', deployment_id: first.deployment.id })).toThrow(/already superseded/);
  });

  it('counts a run where devices asked again, but nothing failed, as no failure at all (#16)', () => {
    for (let i = 1; i <= 3; i++) {
      const serial = `abc${i}`;
      const early = ask({ serial_number: serial });
      report({ status: 'downloading', deployment_id: early.deployment.id, progress: 10 });
      const later = ask({ serial_number: serial });
      report({ status: 'completed', deployment_id: later.deployment.id });
    }
    expect(f.core.stats()).toMatchObject({ completed_today: 3, failed_today: 0, active_deployments: 0 });
    const today = '2026-06-15';
    expect(f.core.deployments.summarize({ from: today, to: today })).toMatchObject({ total: 3, completed: 3, failed: 0, completion_rate: 1 });
    expect(f.core.deployments.list({ status: 'superseded' }).total).toBe(3);
    expect(f.core.deployments.list({ status: 'failed' }).total).toBe(0);
  });

  it('fails deployments that stopped reporting, saying why', () => {
    const quiet = ask({ serial_number: 'abc1' }).deployment;
    f.advance(5 * 60_000);
    const chatty = ask({ serial_number: 'abc2' }).deployment;
    f.advance(6 * 60_000);
    report({ status: 'downloading', deployment_id: chatty.id, progress: 10 });
    const failed = f.core.deployments.sweepStale(10 * 60_000);
    expect(failed.map((d) => d.id)).toEqual([quiet.id]);
    expect(f.core.deployments.get(quiet.id).error_message).toBe('No report from the device for 10 minutes (last status: assigned); marked failed.');
    expect(f.core.deployments.get(chatty.id).status).toBe('downloading');
    expect(f.core.deployments.sweepStale(10 * 60_000)).toEqual([]);
    expect(f.core.stats()).toMatchObject({ failed_today: 1, active_deployments: 1 });
  });

  it('lets a late final report overrule the stale sweep, correcting the counts and saying so in the audit log (#16)', () => {
    const late = ask({ serial_number: 'abc1' }).deployment;
    report({ status: 'verifying', deployment_id: late.id, progress: 90 });
    const failedByDevice = ask({ serial_number: 'abc2' }).deployment;
    report({ status: 'failed', deployment_id: failedByDevice.id, error_message: 'VERIFY_MISMATCH' });
    f.advance(11 * 60_000);
    expect(f.core.deployments.sweepStale(10 * 60_000).map((d) => d.id)).toEqual([late.id]);
    expect(f.core.deployments.get(late.id)).toMatchObject({ status: 'failed', swept_at: expect.any(String) });
    expect(f.core.stats()).toMatchObject({ failed_today: 2, completed_today: 0 });
    // Progress after the sweep cannot reopen it: only the device's final word can.
    expect(() => report({ status: 'customizing', deployment_id: late.id })).toThrow(/already failed/);

    f.events.length = 0;
    const completed = report({ status: 'completed', deployment_id: late.id, message: 'installed 2.0.0' });
    expect(completed).toMatchObject({ status: 'completed', error_message: null, progress: 100, message: 'installed 2.0.0', swept_at: expect.any(String), completed_at: expect.any(String) });
    expect(f.core.stats()).toMatchObject({ failed_today: 1, completed_today: 1 });
    expect(f.eventsNamed('deployment_status')).toEqual([expect.objectContaining({ deployment_id: late.id, status: 'completed' })]);
    expect(f.eventsNamed('stats_update').at(-1)).toMatchObject({ failed_today: 1, completed_today: 1 });
    const entries = f.db.prepare("SELECT actor, action, target, details FROM audit_log WHERE action LIKE 'deployment.%'").all() as Array<Record<string, string>>;
    expect(entries).toEqual([
      expect.objectContaining({ action: 'deployment.sweep_overruled', target: late.hostname, actor: 'device 10.0.0.9', details: expect.stringMatching(/reported completed .* after the stale sweep had marked it failed/) }),
    ]);
    // Once overruled the record is final like any other; a failure the device itself reported stays final too. The
    // same final word again (a retry whose answer was lost) is taken, changing nothing.
    f.events.length = 0;
    expect(report({ status: 'completed', deployment_id: late.id })).toMatchObject({ status: 'completed', completed_at: completed.completed_at });
    expect(f.events).toEqual([]);
    expect(() => report({ status: 'failed', deployment_id: late.id })).toThrow(/already completed/);
    expect(() => report({ status: 'completed', deployment_id: failedByDevice.id })).toThrow(/already failed/);
  });

  it('filters, searches and pages the history', () => {
    for (let i = 1; i <= 5; i++) ask({ serial_number: `feed000${i}`, mac_address: `dc:a6:32:00:00:0${i}` });
    report({ status: 'failed', hostname: 'KXP2-CORO-002', error_message: 'x' });
    expect(f.core.deployments.list({ status: 'failed' }).items.map((d) => d.hostname)).toEqual(['KXP2-CORO-002']);
    expect(f.core.deployments.list({ search: 'DC:A6:32:00:00:03' }).items.map((d) => d.hostname)).toEqual(['KXP2-CORO-003']);
    expect(f.core.deployments.list({ search: 'feed0004' }).total).toBe(1);
    expect(f.core.deployments.list({ venue: 'coro', product: 'KXP2', page: 2, limit: 2 })).toMatchObject({ total: 5, page: 2, items: [{ hostname: 'KXP2-CORO-003' }, { hostname: 'KXP2-CORO-002' }] });
    expect(f.core.deployments.list({ from: '2026-06-16' }).total).toBe(0);
    expect(() => f.core.deployments.list({ from: '2026-06-20', to: '2026-06-10' })).toThrow(/must not be after/);
    expect(() => f.core.deployments.list({ from: '2026-13-45' })).toThrow(/not a date/);
  });

  it('exports CSV that spreadsheets read safely', () => {
    const { deployment } = ask({ serial_number: 'abc1' });
    report({ status: 'failed', deployment_id: deployment.id, error_message: '=HYPERLINK("x"), "quoted"\nline' });
    const csv = [...deploymentCsvLines(f.core.deployments.iterate({}))].join('');
    const [header, row] = csv.split('\r\n');
    expect(header).toMatch(/^id,hostname,status,venue_code/);
    expect(row).toContain('KXP2-CORO-001,failed,CORO');
    expect(csv).toContain(`"'=HYPERLINK(""x""), ""quoted""\nline"`);
  });

  it('summarises completion rate and durations per venue and per day', () => {
    const a = ask({ serial_number: 'a1' }).deployment;
    const b = ask({ serial_number: 'a2' }).deployment;
    ask({ serial_number: 'a3' });
    f.advance(120_000);
    report({ status: 'completed', deployment_id: a.id });
    report({ status: 'failed', deployment_id: b.id, error_message: 'x' });
    const summary = f.core.deployments.summarize({});
    expect(summary).toMatchObject({ total: 3, completed: 1, failed: 1, completion_rate: 0.5, average_duration_s: expect.closeTo(120, 3) });
    expect(summary.per_venue).toEqual([{ venue_code: 'CORO', completed: 1, failed: 1, average_duration_s: expect.closeTo(120, 3) }]);
    expect(summary.per_day).toHaveLength(1);
    expect(summary.per_day[0]).toMatchObject({ completed: 1, failed: 1 });
  });
});

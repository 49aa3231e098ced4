import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isIdentifying, planFleet, runFleet } from './fleet.simulator.js';
import { buildDiskImage, makeTempDir } from '../disk-layout/test-support/disk-image.builder.js';
import { startDeviceApiFixture, type DeviceApiFixture } from './test-support/device-api.fixture.js';

describe('planFleet', () => {
  it('gives every device a distinct serial (and serial tail) and a locally administered MAC', () => {
    const devices = planFleet({ devices: 500, seed: 'a' });
    expect(new Set(devices.map((d) => d.serial)).size).toBe(500);
    expect(new Set(devices.map((d) => d.serial.slice(-8))).size).toBe(500);
    expect(new Set(devices.map((d) => d.mac)).size).toBe(500);
    for (const d of devices) {
      expect(d.serial).toMatch(/^[0-9a-f]{16}$/);
      expect(d.mac).toMatch(/^02(:[0-9a-f]{2}){5}$/);
    }
  });

  it('is reproducible with a seed and different without', () => {
    expect(planFleet({ devices: 5, seed: 'x' }).map((d) => d.serial)).toEqual(planFleet({ devices: 5, seed: 'x' }).map((d) => d.serial));
    expect(planFleet({ devices: 5, seed: 'x' })[0]!.serial).not.toBe(planFleet({ devices: 5, seed: 'y' })[0]!.serial);
    expect(planFleet({ devices: 1 })[0]!.serial).not.toBe(planFleet({ devices: 1 })[0]!.serial);
  });

  it('injects faults into about the requested share, alternating in mixed mode', () => {
    const devices = planFleet({ devices: 1000, seed: 's', failRate: 0.2, failMode: 'mixed' });
    const faulty = devices.filter((d) => d.fault !== 'none');
    expect(faulty.length).toBeGreaterThan(150);
    expect(faulty.length).toBeLessThan(250);
    expect(faulty.map((d) => d.fault).slice(0, 4)).toEqual(['corrupt', 'cut', 'corrupt', 'cut']);
    expect(planFleet({ devices: 50, seed: 's', failRate: 1, failMode: 'cut' }).every((d) => d.fault === 'cut')).toBe(true);
    expect(planFleet({ devices: 50, seed: 's' }).every((d) => d.fault === 'none')).toBe(true);
  });
});

describe('runFleet against a device-API double', () => {
  let dir: string;
  let fixture: DeviceApiFixture;
  beforeEach(async () => {
    dir = await makeTempDir();
    fixture = await startDeviceApiFixture((await buildDiskImage(dir, { flavour: 'firstrun' })).path);
  });
  afterEach(async () => {
    await fixture.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs every device to its planned end and summarises the fleet', async () => {
    const diskDir = join(dir, 'disks');
    const updates: number[] = [];
    const { devices, summary } = await runFleet(
      { devices: 4, serverUrl: fixture.url, diskDir, failRate: 1, failMode: 'mixed', seed: 'unit', retryPolicy: { maxRetries: 3, baseDelayMs: 5, maxDelayMs: 10 }, staggerMs: 5 },
      (all) => updates.push(all.filter((d) => d.state.phase === 'completed').length),
    );
    expect(devices.map((d) => d.fault)).toEqual(['corrupt', 'cut', 'corrupt', 'cut']);
    expect(devices.map((d) => d.state.phase)).toEqual(['failed', 'completed', 'failed', 'completed']);
    expect(summary).toMatchObject({ devices: 4, completed: 2, failed: 2, expectedFailures: 2, unexpected: 0, resumes: 2 });
    expect(summary.failures.map((f) => f.error)).toEqual([expect.stringMatching(/read-back verification failed/), expect.stringMatching(/read-back verification failed/)]);
    expect(summary.totalBytes).toBe(4 * fixture.config.image_size);
    expect(summary.durationsMs.min).toBeLessThanOrEqual(summary.durationsMs.max);
    expect(updates.at(-1)).toBe(2);
    // Disks are removed as devices finish.
    expect(await readdir(diskDir)).toEqual([]);
    expect(new Set(fixture.configRequests.map((r) => (r as { serial_number: string }).serial_number)).size).toBe(4);
  });

  it('shows an Identify on the board it reached, reports made-up SD cards and sends the logs of failures', async () => {
    let asked = false;
    const { devices } = await runFleet(
      { devices: 2, serverUrl: fixture.url, diskDir: null, failRate: 1, failMode: 'corrupt', seed: 'identify', cardWriteRate: 20 << 20, reportIntervalMs: 20 },
      (all) => {
        // Once the first board reports progress, an operator clicks Identify.
        if (!asked && all[0]!.state.phase === 'downloading') {
          asked = true;
          fixture.identifyNext(30);
        }
      },
    );
    expect(devices.filter((d) => isIdentifying(d.state))).toHaveLength(1);
    expect(devices.filter((d) => d.state.identifyingUntil === null)).toHaveLength(1);
    expect(fixture.reports.filter((r) => r.card)).toContainEqual(expect.objectContaining({ card: expect.objectContaining({ kind: 'sd', manufacturer: 'SanDisk', capacity_check: 'skipped' }) }));
    expect(fixture.reports.filter((r) => r.status === 'failed').every((r) => (r.card_write_bps ?? 0) > 0)).toBe(true);
    expect(fixture.logs).toHaveLength(2);
    expect(fixture.logs[0]!.body.log).toMatch(/error \[failed\] /);
  });

  it('hashes into sinks, where corruption is caught by the streamed checksum', async () => {
    const { summary } = await runFleet({ devices: 2, serverUrl: fixture.url, diskDir: null, failRate: 1, failMode: 'corrupt', seed: 'sink' });
    expect(summary).toMatchObject({ completed: 0, failed: 2, expectedFailures: 2, unexpected: 0 });
    expect(summary.failures[0]!.error).toMatch(/does not match its checksum/);
  });

  it('runs devices through image delivery v2: cuts cost a chunk, corruption on disk or on the wire fails the device', async () => {
    const chunked = await startDeviceApiFixture(fixture.config.image_url.replace(/^.*\/images\//, `${dir}/`), {}, { chunks: true });
    try {
      const retryPolicy = { maxRetries: 3, baseDelayMs: 5, maxDelayMs: 10 };
      const disks = await runFleet({ devices: 4, serverUrl: chunked.url, diskDir: join(dir, 'disks'), failRate: 1, failMode: 'mixed', seed: 'unit', retryPolicy });
      expect(disks.devices.map((d) => d.state.phase)).toEqual(['failed', 'completed', 'failed', 'completed']);
      expect(disks.devices.map((d) => d.result?.delivery)).toEqual(['chunked', 'chunked', 'chunked', 'chunked']);
      expect(disks.summary).toMatchObject({ expectedFailures: 2, unexpected: 0, resumes: 2 });
      expect(disks.summary.failures[0]!.error).toMatch(/the card failed verification at offset/);
      const sinks = await runFleet({ devices: 2, serverUrl: chunked.url, diskDir: null, failRate: 1, failMode: 'corrupt', seed: 'sink', retryPolicy, cardWriteRate: 64 << 20 });
      expect(sinks.summary).toMatchObject({ completed: 0, failed: 2, expectedFailures: 2, unexpected: 0 });
      expect(sinks.summary.failures[0]!.error).toMatch(/arrived corrupt 3 times in a row/);
      expect(sinks.summary.totalBytes).toBeLessThan(2 * chunked.config.image_size);
    } finally {
      await chunked.close();
    }
  });

  it('counts a device that fails without a planned fault as unexpected', async () => {
    fixture.refuseConfig(409, { success: false, error: 'Pool exhausted', code: 'POOL_EXHAUSTED' });
    const { summary } = await runFleet({ devices: 2, serverUrl: fixture.url, diskDir: null, seed: 'refused' });
    expect(summary).toMatchObject({ completed: 0, failed: 2, unexpected: 2 });
    expect(summary.failures[0]!.error).toMatch(/Pool exhausted/);
  });
});

import { open, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HOLD_BACK_BYTES, runInstaller, type InstallerEvent, type InstallerOptions } from './installer.runner.js';
import { buildDiskImage, makeTempDir, readBootFile, readRootFile, sha256File, type BuiltImage } from '../disk-layout/test-support/disk-image.builder.js';
import { startDeviceApiFixture, type DeviceApiFixture } from './test-support/device-api.fixture.js';

const FAST_RETRY = { maxRetries: 4, baseDelayMs: 5, maxDelayMs: 20 };
const identity = { serial: '10000000abcdef01', mac: 'dc:a6:32:00:00:01', model: 'Raspberry Pi 5 Model B Rev 1.0', iface: 'eth0' };

describe('runInstaller against a device-API double', () => {
  let dir: string;
  let image: BuiltImage;
  let fixture: DeviceApiFixture;

  beforeEach(async () => {
    dir = await makeTempDir();
    image = await buildDiskImage(dir, { flavour: 'firstrun' });
    fixture = await startDeviceApiFixture(image.path);
  });
  afterEach(async () => {
    await fixture.close();
    await rm(dir, { recursive: true, force: true });
  });

  const install = (overrides: Partial<InstallerOptions> = {}) =>
    runInstaller({ serverUrl: fixture.url, target: join(dir, 'disk.img'), identity, productType: 'KXP2', retryPolicy: FAST_RETRY, reportIntervalMs: 50, ...overrides });

  it('writes, verifies and customises the disk, then reports completed', async () => {
    const events: InstallerEvent[] = [];
    const result = await install({ onEvent: (e) => events.push(e) });

    expect(result).toMatchObject({ ok: true, exitCode: 0, hostname: 'KXP2-TEST-001', deploymentId: 7, verifyMethod: 'o_direct' });
    expect(result.customization?.flavour).toBe('firstrun');
    const disk = join(dir, 'disk.img');
    expect((await stat(disk)).size).toBe(image.size);
    // The partition table and everything outside the boot and root partitions is byte-identical to the image.
    expect(await sha256File(disk, 0, image.boot.startByte)).toBe(await sha256File(image.path, 0, image.boot.startByte));
    expect(await readRootFile(disk, image.root.startByte, '/etc/hostname')).toBe('KXP2-TEST-001\n');
    expect(await readBootFile(disk, image.boot.startByte, 'cmdline.txt')).toMatch(/systemd\.run=\/boot\/firmware\/firstrun\.sh/);

    expect(fixture.configRequests).toEqual([
      expect.objectContaining({ product_type: 'KXP2', venue_code: null, serial_number: identity.serial, mac_address: identity.mac, timestamp: expect.any(Number) }),
    ]);
    const phases = fixture.reports.map((r) => r.status).filter((s, i, all) => s !== all[i - 1]);
    expect(phases).toEqual(['assigned', 'downloading', 'verifying', 'customizing', 'completed']);
    const last = fixture.reports.at(-1)!;
    expect(last).toMatchObject({ status: 'completed', progress: 100, deployment_id: 7, hostname: 'KXP2-TEST-001', error_message: null });
    expect(events.some((e) => e.type === 'progress' && e.phase === 'verifying')).toBe(true);
  });

  it('never leaves a valid partition table on the disk before the very end', async () => {
    // Snapshot the first sector every time the installer reports a phase; only "completed" may see the MBR.
    const disk = join(dir, 'disk.img');
    const seen: Array<[string, boolean]> = [];
    const result = await install({
      sendReport: async (url, report) => {
        const handle = await open(disk, 'r').catch(() => null);
        if (handle) {
          const sector = Buffer.alloc(512);
          await handle.read(sector, 0, 512, 0);
          await handle.close();
          seen.push([report.status, sector.readUInt16LE(510) === 0xaa55]);
        }
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(report) });
        if (!res.ok) throw new Error(`status ${res.status}`);
      },
    });
    expect(result.ok).toBe(true);
    expect(seen.filter(([, hasTable]) => hasTable).map(([status]) => status)).toEqual(['completed']);
    expect(seen.some(([status]) => status === 'customizing')).toBe(true);
  });

  it('zeroes the last MiB of a larger disk and leaves the rest of it alone', async () => {
    const disk = join(dir, 'big.img');
    const diskSize = image.size + 8 * HOLD_BACK_BYTES;
    await writeFile(disk, Buffer.alloc(diskSize, 0xa5));
    const result = await install({ target: disk });
    expect(result.ok).toBe(true);
    const content = await readFile(disk);
    expect(content.length).toBe(diskSize);
    const between = content.subarray(image.size, diskSize - HOLD_BACK_BYTES);
    expect(between.every((b) => b === 0xa5)).toBe(true);
    expect(content.subarray(diskSize - HOLD_BACK_BYTES).every((b) => b === 0)).toBe(true);
  });

  it('resumes a download cut mid-way with a Range request and still verifies', async () => {
    fixture.cutNextDownloadAfter(Math.floor(image.size / 3));
    const retries: InstallerEvent[] = [];
    const result = await install({ onEvent: (e) => e.type === 'retry' && retries.push(e) });

    expect(result.ok).toBe(true);
    expect(result.resumes).toBe(1);
    expect(retries).toHaveLength(1);
    expect(fixture.imageRequests).toHaveLength(2);
    const resumed = fixture.imageRequests[1]!;
    expect(resumed.status).toBe(206);
    expect(resumed.range).toMatch(/^bytes=\d+-$/);
    expect(Number(/\d+/.exec(resumed.range!)![0])).toBeGreaterThan(0);
    expect(resumed.ifRange).toBe(fixture.etag);
  });

  it('resumes after the server stalls', async () => {
    fixture.stallNextDownloadAfter(4 << 20);
    const result = await install({ stallTimeoutMs: 300 });
    expect(result.ok).toBe(true);
    expect(result.resumes).toBe(1);
  });

  it('fails verification when a byte on the disk differs, and reports the reason', async () => {
    const result = await install({ faults: { corruptWriteAt: image.root.startByte + 4096 } });

    expect(result).toMatchObject({ ok: false, exitCode: 1, errorCode: 'VERIFY_MISMATCH', failedPhase: 'verifying' });
    const last = fixture.reports.at(-1)!;
    expect(last.status).toBe('failed');
    expect(last.error_message).toMatch(/read-back verification failed/);
    // The disk was never given a partition table.
    const sector = (await readFile(join(dir, 'disk.img'))).subarray(0, 512);
    expect(sector.every((b) => b === 0)).toBe(true);
  });

  it('fails when the downloaded bytes do not match the checksum twice, having fetched the image once more', async () => {
    const result = await install({ faults: { corruptStreamAt: 12345 } });
    expect(result).toMatchObject({ ok: false, errorCode: 'CHECKSUM_MISMATCH', failedPhase: 'downloading', imageRefetched: true });
    expect(fixture.imageRequests.filter((r) => r.status === 200)).toHaveLength(2);
    expect(fixture.reports.at(-1)).toMatchObject({ status: 'failed', error_message: expect.stringMatching(/does not match its checksum, fetched twice/) });
  });

  it('fetches the image once more after a checksum mismatch, says so, and installs when the second copy is right (#16)', async () => {
    const events: InstallerEvent[] = [];
    const result = await install({ faults: { corruptStreamAt: 2 * HOLD_BACK_BYTES + 12345, corruptStreamOnce: true }, onEvent: (e) => events.push(e) });
    expect(result).toMatchObject({ ok: true, exitCode: 0, imageRefetched: true, verifyMethod: 'o_direct' });
    expect(fixture.imageRequests.filter((r) => r.status === 200)).toHaveLength(2);
    expect(await sha256File(join(dir, 'disk.img'), 0, image.boot.startByte)).toBe(await sha256File(image.path, 0, image.boot.startByte));
    expect(events).toContainEqual(expect.objectContaining({ type: 'warning', message: expect.stringMatching(/does not match its checksum .*fetching it once more/) }));
    // The server hears of it while it happens and in the final report.
    expect(fixture.reports).toContainEqual(expect.objectContaining({ status: 'downloading', progress: 0, message: expect.stringMatching(/fetching it once more/) }));
    expect(fixture.reports.at(-1)).toMatchObject({ status: 'completed', message: expect.stringContaining('image fetched again after a checksum mismatch') });
  });

  it('hashes into a sink without a disk', async () => {
    const result = await install({ target: 'sink' });
    expect(result).toMatchObject({ ok: true, verifyMethod: 'stream', customization: null });
    expect(fixture.reports.at(-1)?.status).toBe('completed');
  });

  it('exits with code 3 and reports nothing when the server refuses a configuration', async () => {
    fixture.refuseConfig(409, { success: false, error: 'No active image for KXP2', code: 'NO_ACTIVE_IMAGE' });
    const result = await install();
    expect(result).toMatchObject({ ok: false, exitCode: 3, errorCode: 'CONFIG_REFUSED', failedPhase: 'config' });
    expect(result.error).toMatch(/409 NO_ACTIVE_IMAGE.*No active image for KXP2/);
    expect(fixture.configRequests).toHaveLength(1);
    expect(fixture.reports).toHaveLength(0);
  });

  it('retries the configuration while the server answers 503', async () => {
    fixture.refuseConfig(503, { success: false, error: 'starting up' }, 2);
    const result = await install({ target: 'sink' });
    expect(result.ok).toBe(true);
    expect(fixture.configRequests).toHaveLength(3);
  });

  it('rejects a malformed configuration answer without touching the disk', async () => {
    fixture.config = { ...fixture.config, image_checksum: 'not-a-hash' };
    const result = await install();
    expect(result).toMatchObject({ ok: false, exitCode: 3, errorCode: 'BAD_RESPONSE' });
    await expect(stat(join(dir, 'disk.img'))).rejects.toThrow();
  });

  it('refuses a hostname that could inject into first-boot files', async () => {
    fixture.config = { ...fixture.config, hostname: 'x"; rm -rf /' };
    const result = await install();
    expect(result).toMatchObject({ ok: false, exitCode: 3, errorCode: 'BAD_RESPONSE' });
  });

  it('stops when the server has closed the deployment', async () => {
    fixture.closeDeployment('deployment timed out: no report for 10 minutes');
    const result = await install();
    expect(result).toMatchObject({ ok: false, errorCode: 'DEPLOYMENT_CLOSED' });
    expect(result.error).toMatch(/no report for 10 minutes/);
  });

  it('reports the exact cause when the image is missing on the server', async () => {
    fixture.config = { ...fixture.config, image_url: `${fixture.url}/images/gone.img` };
    const result = await install();
    expect(result).toMatchObject({ ok: false, exitCode: 1, errorCode: 'HTTP', failedPhase: 'downloading' });
    expect(fixture.reports.at(-1)).toMatchObject({ status: 'failed', error_message: expect.stringMatching(/HTTP 404/) });
  });

  it('fails cleanly when the target cannot be opened', async () => {
    const result = await install({ target: join(dir, 'no-such-dir', 'disk.img') });
    expect(result).toMatchObject({ ok: false, errorCode: 'TARGET' });
    expect(fixture.reports.at(-1)).toMatchObject({ status: 'failed', error_message: expect.stringMatching(/cannot open the target/) });
  });

  it('runs several installers at once without mixing their disks', async () => {
    const disks = [1, 2, 3].map((n) => join(dir, `disk-${n}.img`));
    const results = await Promise.all(disks.map((target, n) => install({ target, identity: { ...identity, serial: `1000000000000${n}`, mac: `dc:a6:32:00:00:0${n}` } })));
    expect(results.every((r) => r.ok)).toBe(true);
    for (const disk of disks) expect(await readRootFile(disk, image.root.startByte, '/etc/hostname')).toBe('KXP2-TEST-001\n');
  });

  it('writes an image whose size is not a multiple of the block size', async () => {
    const odd = join(dir, 'odd.img');
    await writeFile(odd, await readFile(image.path));
    await truncate(odd, image.size + 12_345);
    await fixture.close();
    fixture = await startDeviceApiFixture(odd);
    const result = await install({ customize: false });
    expect(result.ok).toBe(true);
    expect(await sha256File(join(dir, 'disk.img'))).toBe(await sha256File(odd));
  });
});

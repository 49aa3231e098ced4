// The installer choosing its target on a board's /sys, /proc and /dev, with the chosen disk a real loop device:
// what the boot order picks is what gets written, and a board that would not boot it gets nothing written at all.
import { rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildDiskImage, makeTempDir, readRootFile, sha256File, type BuiltImage } from '../disk-layout/test-support/disk-image.builder.js';
import { deviceNumber } from './disk.target.js';
import { runInstaller, type InstallerOptions } from './installer.runner.js';
import { startDeviceApiFixture, type DeviceApiFixture } from './test-support/device-api.fixture.js';
import { buildFakeBoard, eepromConfig } from './test-support/fake-board.js';
import { attachLoopDevice, canUseLoopDevices, detachLoopDevice } from './test-support/loop-device.js';

const FAST_RETRY = { maxRetries: 2, baseDelayMs: 5, maxDelayMs: 20 };
const identity = { serial: '10000000abcdef01', mac: 'dc:a6:32:00:00:01', model: 'Raspberry Pi 5 Model B Rev 1.0', iface: 'eth0' };

describe.skipIf(!canUseLoopDevices() && !process.env.CI)('the installer on a board, target chosen by its boot order', () => {
  let dir: string;
  let board: string;
  let image: BuiltImage;
  let fixture: DeviceApiFixture;
  let loop: string;
  let backing: string;

  beforeEach(async () => {
    dir = await makeTempDir();
    board = join(dir, 'board');
    image = await buildDiskImage(dir, { flavour: 'cloud-init' });
    fixture = await startDeviceApiFixture(image.path);
    backing = join(dir, 'nvme.raw');
    await writeFile(backing, '');
    await truncate(backing, image.size + 16 * 1024 * 1024);
    loop = await attachLoopDevice(backing);
  });
  afterEach(async () => {
    await fixture.close();
    await detachLoopDevice(loop);
    await rm(dir, { recursive: true, force: true });
  });

  /** A Pi 5 with an NVMe drive (the loop device) and, unless said otherwise, an SD card. */
  const pi5 = async ({ bootloaderConfig, sdCard = true }: { bootloaderConfig?: string; sdCard?: boolean }) => {
    const nvme = { name: 'nvme0n1', kind: 'nvme' as const, sizeBytes: (await stat(backing)).size, model: 'Test NVMe', backedBy: deviceNumber((await stat(loop, { bigint: true })).rdev) };
    await buildFakeBoard(board, {
      model: identity.model,
      bootMode: 2,
      bootloaderConfig,
      disks: sdCard ? [{ name: 'mmcblk0', kind: 'sd-card' }, nvme] : [nvme],
    });
  };
  const install = (overrides: Partial<InstallerOptions> = {}) =>
    runInstaller({ serverUrl: fixture.url, target: 'auto', systemRoot: board, identity, productType: 'KXP2', retryPolicy: FAST_RETRY, reportIntervalMs: 50, ...overrides });

  it('writes the NVMe drive a 0xf216 board boots first, and says why on the deployment', async () => {
    await pi5({ bootloaderConfig: eepromConfig('0xf216', ['PCIE_PROBE=1']) });
    const result = await install();

    expect(result).toMatchObject({ ok: true, target: join(board, 'dev/nvme0n1'), warnings: [] });
    expect(await sha256File(loop, 0, image.boot.startByte)).toBe(await sha256File(image.path, 0, image.boot.startByte));
    expect(await readRootFile(loop, image.root.startByte, '/etc/hostname')).toBe('KXP2-TEST-001\n');
    const assigned = fixture.reports.find((r) => r.status === 'assigned')!;
    expect(assigned.message).toMatch(/target .*nvme0n1 \(NVMe drive, .*Test NVMe\): the first disk BOOT_ORDER 0xf216 \(NVMe, SD card\/eMMC, network, then again\) reaches; this installer was started from network; also found mmcblk0/);
  });

  it('refuses, and writes nothing, where the board would network-boot before the NVMe drive', async () => {
    await pi5({ bootloaderConfig: eepromConfig('0xf21'), sdCard: false });
    const before = await sha256File(loop, 0, image.size);

    const result = await install();
    expect(result).toMatchObject({ ok: false, errorCode: 'TARGET', failedPhase: 'assigned' });
    expect(result.error).toMatch(/BOOT_ORDER 0xf21 .* tries network before nvme0n1 .* re-image it on every start; set BOOT_ORDER=0xf216/);
    expect(fixture.reports.at(-1)).toMatchObject({ status: 'failed', error_message: result.error });
    expect(await sha256File(loop, 0, image.size)).toBe(before);
  });

  it('installs where the boot order cannot be read, and the deployment\'s final message says it was not checked', async () => {
    await pi5({});
    const result = await install();
    expect(result).toMatchObject({ ok: true, target: join(board, 'dev/nvme0n1') });
    expect(result.warnings).toEqual([expect.stringMatching(/the boot order could not be read \(.*no blconfig NVMEM device.*\): make sure BOOT_ORDER tries NVMe drive \(nvme0n1\) before the network/)]);
    expect(fixture.reports.at(-1)).toMatchObject({ status: 'completed', message: expect.stringMatching(/\nwarning: the boot order could not be read/) });
  });
});

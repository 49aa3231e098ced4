import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../disk-layout/test-support/disk-image.builder.js';
import { listBlockDisks } from './block-devices.reader.js';
import { parseBootOrder, readBootloaderState } from './bootloader-state.reader.js';
import { checkNamedDisk, resolveInstallTarget, suggestBootOrder } from './target-disk.chooser.js';
import { buildFakeBoard, eepromConfig, type FakeBoard, type FakeDisk } from './test-support/fake-board.js';
import { prepareSampleTftpTree } from '../netboot/test-support/sample-tftp-tree.js';
import { buildUsbStickImage } from '../netboot/usb-stick.builder.js';

const SD: FakeDisk = { name: 'mmcblk0', kind: 'sd-card' };
const EMMC: FakeDisk = { name: 'mmcblk0', kind: 'emmc' };
const NVME: FakeDisk = { name: 'nvme0n1', kind: 'nvme' };
const USB: FakeDisk = { name: 'sda', kind: 'usb' };
const USB2: FakeDisk = { name: 'sdb', kind: 'usb' };
const SATA: FakeDisk = { name: 'sda', kind: 'sata' };

const NETWORK = 2;
const SD_MODE = 1;
const USB_MODE = 4;
/** No bootloader configuration copy: the order cannot be read. */
const UNKNOWN = null;

type Expected = { target: string; warning?: RegExp } | { refused: RegExp };

interface Case {
  what: string;
  disks: FakeDisk[];
  bootOrder: string | null;
  bootMode?: number;
  expected: Expected;
  board?: Partial<FakeBoard>;
}

// Every board this installer meets (SD only, NVMe only, both, USB, CM4/CM5 eMMC, two USB drives) under the boot
// orders technicians set, network-booted unless said otherwise.
const CASES: Case[] = [
  { what: 'SD card, SD then network', disks: [SD], bootOrder: '0xf21', expected: { target: 'mmcblk0' } },
  { what: 'SD card, NVMe-first order', disks: [SD], bootOrder: '0xf216', expected: { target: 'mmcblk0' } },
  { what: 'SD card, network first', disks: [SD], bootOrder: '0xf12', expected: { refused: /tries network before mmcblk0 .* re-image it on every start; set BOOT_ORDER=0xf21/ } },
  { what: 'SD card, network only', disks: [SD], bootOrder: '0xf2', expected: { refused: /tries network before mmcblk0.*BOOT_ORDER=0xf21/ } },
  { what: 'SD card, HTTP boot first', disks: [SD], bootOrder: '0xf17', expected: { refused: /tries HTTP before mmcblk0.*BOOT_ORDER=0xf71/ } },
  { what: 'SD card, RPIBOOT first', disks: [SD], bootOrder: '0xf13', expected: { refused: /tries RPIBOOT \(USB device mode\) before mmcblk0 .* waits for a USB host/ } },
  { what: 'SD card, order unknown', disks: [SD], bootOrder: UNKNOWN, expected: { target: 'mmcblk0', warning: /boot order could not be read .* tries SD card \(mmcblk0\) before the network/ } },
  { what: 'NVMe, SD-then-network order (a Pi 5 set up for SD)', disks: [NVME], bootOrder: '0xf21', expected: { refused: /tries network before nvme0n1 .* set BOOT_ORDER=0xf216/ } },
  { what: 'NVMe, network before NVMe', disks: [NVME], bootOrder: '0xf621', expected: { refused: /tries network before nvme0n1/ } },
  { what: 'NVMe, NVMe first', disks: [NVME], bootOrder: '0xf216', expected: { target: 'nvme0n1' } },
  { what: 'NVMe, the Pi 5 factory order (SD, NVMe, USB)', disks: [NVME], bootOrder: '0xf461', expected: { target: 'nvme0n1' } },
  { what: 'NVMe, order without NVMe or network', disks: [NVME], bootOrder: '0xf41', expected: { refused: /never tries nvme0n1.*BOOT_ORDER=0xf416/ } },
  { what: 'SD and NVMe, SD first', disks: [SD, NVME], bootOrder: '0xf21', expected: { target: 'mmcblk0' } },
  { what: 'SD and NVMe, NVMe first', disks: [SD, NVME], bootOrder: '0xf216', expected: { target: 'nvme0n1' } },
  { what: 'SD and NVMe, SD before NVMe', disks: [SD, NVME], bootOrder: '0xf261', expected: { target: 'mmcblk0' } },
  { what: 'SD and NVMe, network first', disks: [SD, NVME], bootOrder: '0xf162', expected: { refused: /tries network before mmcblk0 .*, nvme0n1 .*BOOT_ORDER=0xf126/ } },
  { what: 'SD and NVMe, order unknown', disks: [SD, NVME], bootOrder: UNKNOWN, expected: { target: 'nvme0n1', warning: /could not be read.*NVMe drive \(nvme0n1\)/ } },
  { what: 'USB drive, SD-then-network order', disks: [USB], bootOrder: '0xf21', expected: { refused: /tries network before sda .*BOOT_ORDER=0xf214/ } },
  { what: 'USB drive, USB before network', disks: [USB], bootOrder: '0xf241', expected: { target: 'sda' } },
  { what: 'USB drive, USB 2.0 port mode', disks: [USB], bootOrder: '0xf25', expected: { target: 'sda' } },
  { what: 'SD and USB, SD first', disks: [SD, USB], bootOrder: '0xf241', expected: { target: 'mmcblk0' } },
  { what: 'SD and USB, USB first', disks: [SD, USB], bootOrder: '0xf214', expected: { target: 'sda' } },
  { what: 'SD and USB, order unknown: SD before USB', disks: [SD, USB], bootOrder: UNKNOWN, expected: { target: 'mmcblk0', warning: /could not be read/ } },
  { what: 'two USB drives at the same step', disks: [USB, USB2], bootOrder: '0xf241', expected: { refused: /reaches sda .*, sdb .* at the same step.*pitcrew\.target=/ } },
  { what: 'two USB drives, order unknown', disks: [USB, USB2], bootOrder: UNKNOWN, expected: { refused: /found sda .*, sdb .* cannot tell which one the board boots/ } },
  { what: 'two USB drives, SD card first', disks: [SD, USB, USB2], bootOrder: '0xf241', expected: { target: 'mmcblk0' } },
  { what: 'CM4/CM5 eMMC', disks: [EMMC], bootOrder: '0xf21', expected: { target: 'mmcblk0' } },
  { what: 'CM eMMC and NVMe, NVMe first', disks: [EMMC, NVME], bootOrder: '0xf216', expected: { target: 'nvme0n1' } },
  { what: 'CM eMMC and NVMe, eMMC first', disks: [EMMC, NVME], bootOrder: '0xf261', expected: { target: 'mmcblk0' } },
  { what: 'CM eMMC and NVMe, order unknown', disks: [EMMC, NVME], bootOrder: UNKNOWN, expected: { target: 'nvme0n1', warning: /could not be read/ } },
  { what: 'SD, NVMe and USB, NVMe first', disks: [SD, NVME, USB], bootOrder: '0xf2416', expected: { target: 'nvme0n1' } },
  { what: 'a SATA disk only', disks: [SATA], bootOrder: '0xf21', expected: { refused: /no disk this board can boot from .*sda \(disk the bootloader cannot start from.*\): the bootloader cannot start a system from it/ } },
  { what: 'no disk at all', disks: [], bootOrder: '0xf21', expected: { refused: /no SD card, eMMC, NVMe or USB drive found/ } },
  { what: 'write-protected SD card', disks: [{ ...SD, readOnly: true }], bootOrder: '0xf21', expected: { refused: /mmcblk0 .*: it is write-protected/ } },
  { what: 'write-protected SD card and NVMe never tried', disks: [{ ...SD, readOnly: true }, NVME], bootOrder: '0xf21', expected: { refused: /tries network before nvme0n1/ } },
  { what: 'SD card with a mounted partition', disks: [{ ...SD, partitions: 2 }], bootOrder: '0xf21', board: { mounts: ['/dev/mmcblk0p2 / ext4 rw 0 0'] }, expected: { refused: /mmcblk0 .*: it is in use \(mmcblk0p2 mounted\)/ } },
  // The installer itself started from a disk (installer media): never that disk.
  { what: 'started from the SD card, SD only', disks: [SD], bootOrder: '0xf21', bootMode: SD_MODE, expected: { refused: /mmcblk0 .*: this installer was started from it\); this installer was started from SD card\/eMMC/ } },
  { what: 'started from the SD card, NVMe first', disks: [SD, NVME], bootOrder: '0xf216', bootMode: SD_MODE, expected: { target: 'nvme0n1' } },
  { what: 'started from the SD card, tried before NVMe', disks: [SD, NVME], bootOrder: '0xf261', bootMode: SD_MODE, expected: { target: 'nvme0n1', warning: /remove mmcblk0 .* before the board restarts: it holds this installer/ } },
  { what: 'started from one of two USB drives', disks: [SD, USB, USB2], bootOrder: '0xf241', bootMode: USB_MODE, expected: { target: 'mmcblk0' } },
  { what: 'started from one of two USB drives, no other disk', disks: [USB, USB2], bootOrder: '0xf241', bootMode: USB_MODE, expected: { refused: /this installer was started from a USB drive and cannot tell which/ } },
  { what: 'conditional BOOT_ORDER', disks: [SD, NVME], bootOrder: '0xf21\n[gpio4=1]\nBOOT_ORDER=0xf216', expected: { target: 'nvme0n1', warning: /conditional section/ } },
];

describe('the target disk, chosen by the documented rule', () => {
  let root: string;
  beforeEach(async () => { root = await makeTempDir(); });
  afterEach(async () => { await rm(root, { recursive: true, force: true }); });

  for (const c of CASES) {
    it(`${c.what}: ${'target' in c.expected ? c.expected.target : 'refused'}`, async () => {
      await buildFakeBoard(root, {
        model: 'Raspberry Pi 5 Model B Rev 1.0',
        disks: c.disks,
        bootMode: c.bootMode ?? NETWORK,
        ...(c.bootOrder === UNKNOWN ? {} : { bootloaderConfig: eepromConfig(c.bootOrder) }),
        ...c.board,
      });
      const chosen = resolveInstallTarget('auto', root);
      if ('refused' in c.expected) {
        await expect(chosen).rejects.toMatchObject({ code: 'TARGET', message: expect.stringMatching(c.expected.refused) });
        return;
      }
      const target = await chosen;
      expect(target.path).toBe(`${root}/dev/${c.expected.target}`);
      if (c.expected.warning) expect(target.warnings.join('\n')).toMatch(c.expected.warning);
      else expect(target.warnings).toEqual([]);
      // The log and the deployment's message say which disk, why, and what the bootloader was found to do.
      expect(target.description).toContain(c.expected.target);
      expect(target.description).toMatch(c.bootOrder === UNKNOWN || c.bootOrder.includes('[') ? /boot order unknown/ : new RegExp(`BOOT_ORDER ${c.bootOrder}`));
      expect(target.description).toMatch(/this installer was started from/);
    });
  }

  it('checks nothing off a Raspberry Pi (QEMU, a test machine), and warns about nothing there', async () => {
    await buildFakeBoard(root, { disks: [SD, NVME] });
    const target = await resolveInstallTarget('auto', root);
    expect(target).toMatchObject({ path: `${root}/dev/nvme0n1`, warnings: [] });
    expect(target.description).toMatch(/no Raspberry Pi bootloader here, boot order not checked/);
  });

  it('says when the bootloader would find an NVMe drive on a HAT+ adapter only', async () => {
    await buildFakeBoard(root, { disks: [NVME], bootMode: NETWORK, bootloaderConfig: eepromConfig('0xf216') });
    expect((await resolveInstallTarget('auto', root)).description).toMatch(/reaches; PCIE_PROBE=1 is not set, so the bootloader finds this drive only on a HAT\+ adapter; this installer/);
    const probed = await makeTempDir();
    await buildFakeBoard(probed, { disks: [NVME], bootMode: NETWORK, bootloaderConfig: eepromConfig('0xf216', ['PCIE_PROBE=1']) });
    expect((await resolveInstallTarget('auto', probed)).description).not.toMatch(/PCIE_PROBE/);
    await rm(probed, { recursive: true, force: true });
  });

  it('takes a sink or a regular file as it is', async () => {
    expect(await resolveInstallTarget('sink', root)).toEqual({ path: 'sink', description: 'a hashing sink (nothing is kept)', warnings: [] });
    expect(await resolveInstallTarget(`${root}/disk.img`, root)).toEqual({ path: `${root}/disk.img`, description: `${root}/disk.img`, warnings: [] });
  });

  it('suggests the same order with the target disk first', () => {
    expect(suggestBootOrder(parseBootOrder('0xf21'), 'nvme')).toBe('0xf216');
    expect(suggestBootOrder(parseBootOrder('0xf12'), 'sd-card')).toBe('0xf21');
    expect(suggestBootOrder(parseBootOrder('0xf241'), 'usb')).toBe('0xf214');
    expect(suggestBootOrder(parseBootOrder('0xe2'), 'emmc')).toBe('0xe21');
  });
});

describe('a disk named by the operator', () => {
  let root: string;
  beforeEach(async () => { root = await makeTempDir(); });
  afterEach(async () => { await rm(root, { recursive: true, force: true }); });

  const check = async (board: FakeBoard, name: string, stickId: string | null = null) => {
    await buildFakeBoard(root, board);
    const disks = await listBlockDisks(root);
    return checkNamedDisk(disks.find((d) => d.name === name)!, disks, { state: await readBootloaderState(root), stickId });
  };

  it('is refused where the board would boot the network before it', async () => {
    await expect(check({ disks: [SD, NVME], bootMode: NETWORK, bootloaderConfig: eepromConfig('0xf21') }, 'nvme0n1')).rejects.toThrow(/tries network before nvme0n1.*BOOT_ORDER=0xf216/);
  });

  it('is taken with a warning when another disk comes first in the boot order', async () => {
    const target = await check({ disks: [SD, NVME], bootMode: NETWORK, bootloaderConfig: eepromConfig('0xf216') }, 'mmcblk0');
    expect(target.path).toBe(`${root}/dev/mmcblk0`);
    expect(target.description).toMatch(/named by the operator \(BOOT_ORDER 0xf216/);
    expect(target.warnings).toEqual([expect.stringMatching(/the bootloader tries nvme0n1 .* before mmcblk0: if it holds a bootable system/)]);
  });

  it('is refused when it is the installer\'s own medium, write-protected, or not bootable at all', async () => {
    await expect(check({ disks: [SD, NVME], bootMode: SD_MODE, bootloaderConfig: eepromConfig('0xf216') }, 'mmcblk0')).rejects.toThrow(/is the medium this installer was started from/);
    await rm(root, { recursive: true, force: true });
    await expect(check({ disks: [{ ...SD, readOnly: true }], bootMode: NETWORK, bootloaderConfig: eepromConfig('0xf21') }, 'mmcblk0')).rejects.toThrow(/write-protected/);
    await rm(root, { recursive: true, force: true });
    await expect(check({ disks: [SATA], bootMode: NETWORK }, 'sda')).rejects.toThrow(/the bootloader cannot start a system from sda/);
  });
});

describe('started from the installer stick', () => {
  let root: string;
  let work: string;
  let stick: { output: string; diskId: string };
  let other: string;

  beforeAll(async () => {
    work = await makeTempDir();
    const tree = await prepareSampleTftpTree(work);
    stick = await buildUsbStickImage({ tftpDir: tree.outDir, output: join(work, 'stick.img') });
    // Another disk with an MBR of its own (a USB SSD that held a system before): a different identifier.
    other = (await buildUsbStickImage({ tftpDir: tree.outDir, output: join(work, 'other.img') })).output;
  });
  afterAll(async () => { await rm(work, { recursive: true, force: true }); });
  beforeEach(async () => { root = await makeTempDir(); });
  afterEach(async () => { await rm(root, { recursive: true, force: true }); });

  const STICK_SIZE = 96 * 1024 ** 2;
  const onBoard = (board: Partial<FakeBoard> & { disks: FakeDisk[] }) => buildFakeBoard(root, { model: 'Raspberry Pi 4 Model B Rev 1.5', ...board });
  const stickDisk = (name: string): FakeDisk => ({ name, kind: 'usb', sizeBytes: STICK_SIZE, model: 'Flash Disk', image: stick.output });

  it('is never the target, off a Raspberry Pi too, where it would otherwise tie with a USB drive', async () => {
    await buildFakeBoard(root, { disks: [{ ...USB, image: other }, stickDisk('sdb')] });
    const target = await resolveInstallTarget('auto', root, stick.diskId);
    expect(target.path).toBe(`${root}/dev/sda`);
    expect(target.installerStick).toBe('sdb');
    expect(target.description).toMatch(/this installer was started from the installer stick sdb \(USB drive, 96\.0 MiB, Flash Disk\); also found sdb .* — it is the installer stick this installer was started from/);
    expect(target.warnings).toEqual(['remove the installer stick before the board restarts (sdb (USB drive, 96.0 MiB, Flash Disk))']);
    // Without its identifier the two USB drives cannot be told apart: the stick is what made the choice.
    await expect(resolveInstallTarget('auto', root)).rejects.toThrow(/found sda .*, sdb .* cannot tell which one the board boots/);
  });

  it('on a Pi booted from USB with a USB SSD beside it, the SSD is chosen (by boot mode alone neither would be)', async () => {
    await onBoard({ disks: [{ ...USB, image: other }, stickDisk('sdb')], bootMode: USB_MODE, bootloaderConfig: eepromConfig('0xf41') });
    const target = await resolveInstallTarget('auto', root, stick.diskId);
    expect(target).toMatchObject({ path: `${root}/dev/sda`, installerStick: 'sdb' });
    expect(target.description).toMatch(/the first disk BOOT_ORDER 0xf41 .* reaches; this installer was started from the installer stick sdb/);
    await expect(resolveInstallTarget('auto', root)).rejects.toThrow(/this installer was started from a USB drive and cannot tell which/);
  });

  it('says why the stick must come out when the bootloader tries it before the target', async () => {
    await onBoard({ disks: [SD, stickDisk('sda')], bootMode: USB_MODE, bootloaderConfig: eepromConfig('0xf14') });
    const target = await resolveInstallTarget('auto', root, stick.diskId);
    expect(target.path).toBe(`${root}/dev/mmcblk0`);
    expect(target.warnings).toEqual([expect.stringMatching(/^remove the installer stick before the board restarts \(sda .*\): the bootloader tries it before mmcblk0, so this installer would start again and re-image the board$/)]);
  });

  it('is refused when named as the target, and an SD card is still written when the stick is the only USB drive', async () => {
    await onBoard({ disks: [SD, stickDisk('sda')], bootMode: USB_MODE, bootloaderConfig: eepromConfig('0xf41') });
    // Named disks are checked as block devices are (here /dev holds links to image files, which resolveInstallTarget takes as files).
    const disks = await listBlockDisks(root);
    const origin = { state: await readBootloaderState(root), stickId: stick.diskId };
    const named = (name: string) => checkNamedDisk(disks.find((disk) => disk.name === name)!, disks, origin);
    expect(() => named('sda')).toThrow(expect.objectContaining({ code: 'TARGET', message: expect.stringMatching(/sda .* is the installer stick this installer was started from; refusing to overwrite it/) }));
    expect(named('mmcblk0')).toMatchObject({ path: `${root}/dev/mmcblk0`, installerStick: 'sda', warnings: [expect.stringMatching(/^remove the installer stick before the board restarts/)] });
    expect(await resolveInstallTarget('auto', root, stick.diskId)).toMatchObject({ path: `${root}/dev/mmcblk0`, installerStick: 'sda' });
  });

  it('takes any USB drive for the stick when no disk carries its identifier, and ignores a disk with another identifier', async () => {
    await onBoard({ disks: [SD, { ...USB, image: other }], bootMode: USB_MODE, bootloaderConfig: eepromConfig('0xf41') });
    const target = await resolveInstallTarget('auto', root, stick.diskId);
    expect(target.path).toBe(`${root}/dev/mmcblk0`);
    expect(target.installerStick).toBeUndefined();
    expect(target.description).toContain(`this installer was started from the installer stick ${stick.diskId}, not found among the disks`);
    expect(target.description).toMatch(new RegExp(`sda .* — this installer was started from the installer stick ${stick.diskId}, not found among the disks, and it may be this one`));
  });

  it('off a Raspberry Pi (no boot mode to go by) never writes a USB drive while the stick is not found: it may be the stick, not there yet', async () => {
    // The stick is still being found by the kernel: a USB drive without its identifier shows up first.
    await buildFakeBoard(root, { disks: [{ ...USB, image: other }] });
    await expect(resolveInstallTarget('auto', root, stick.diskId)).rejects.toThrow(new RegExp(`no disk this board can boot from to install to \\(sda .*: this installer was started from the installer stick ${stick.diskId}, not found among the disks, and it may be this one\\)`));
    const disks = await listBlockDisks(root);
    const origin = { state: await readBootloaderState(root), stickId: stick.diskId };
    expect(() => checkNamedDisk(disks[0]!, disks, origin))
      .toThrow(/installer stick [0-9a-f]{8}, not found among the disks, and sda .* may be it; refusing to overwrite it/);
    // Without a stick named, the same lone drive is the target, as before.
    expect((await resolveInstallTarget('auto', root)).path).toBe(`${root}/dev/sda`);
  });
});

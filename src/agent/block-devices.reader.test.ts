import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../disk-layout/test-support/disk-image.builder.js';
import { describeDisk, listBlockDisks } from './block-devices.reader.js';
import { buildFakeBoard } from './test-support/fake-board.js';

describe('listBlockDisks', () => {
  let root: string;
  beforeEach(async () => { root = await makeTempDir(); });
  afterEach(async () => { await rm(root, { recursive: true, force: true }); });

  it('tells SD cards, eMMC, NVMe and USB drives from disks the bootloader cannot start', async () => {
    await buildFakeBoard(root, {
      disks: [
        { name: 'mmcblk0', kind: 'sd-card', sizeBytes: 32e9, model: 'SN32G' },
        { name: 'mmcblk1', kind: 'emmc', sizeBytes: 16e9 },
        { name: 'nvme0n1', kind: 'nvme', sizeBytes: 256e9, model: 'Samsung SSD 980' },
        { name: 'sda', kind: 'usb', sizeBytes: 500e9, model: 'T7' },
        { name: 'sdb', kind: 'sata', sizeBytes: 1e12 },
        { name: 'vda', kind: 'virtio', sizeBytes: 8e9 },
      ],
    });
    const disks = await listBlockDisks(root);
    expect(disks.map((d) => [d.name, d.medium])).toEqual([
      ['mmcblk0', 'sd-card'],
      ['mmcblk1', 'emmc'],
      ['nvme0n1', 'nvme'],
      ['sda', 'usb'],
      ['sdb', 'other'],
      ['vda', 'other'],
    ]);
    expect(disks[2]).toMatchObject({ devicePath: join(root, 'dev/nvme0n1'), sizeBytes: Math.floor(256e9 / 512) * 512, readOnly: false, model: 'Samsung SSD 980' });
    expect(describeDisk(disks[0]!)).toBe('mmcblk0 (SD card, 29.8 GiB, SN32G)');
  });

  it('leaves out eMMC boot areas, loop and RAM devices and an empty card reader', async () => {
    await buildFakeBoard(root, {
      disks: [
        { name: 'mmcblk0', kind: 'emmc' },
        { name: 'sda', kind: 'usb', sizeBytes: 0 },
      ],
    });
    for (const name of ['loop0', 'ram0', 'zram0', 'dm-0']) {
      await mkdir(join(root, 'sys/block', name), { recursive: true });
      await writeFile(join(root, 'sys/block', name, 'size'), '2048\n');
    }
    expect((await listBlockDisks(root)).map((d) => d.name)).toEqual(['mmcblk0']);
  });

  it('knows a write-protected card and a disk with a mounted partition', async () => {
    await buildFakeBoard(root, {
      disks: [
        { name: 'mmcblk0', kind: 'sd-card', readOnly: true },
        { name: 'sda', kind: 'usb', partitions: 2 },
      ],
      mounts: ['/dev/sda1 /mnt/installer vfat ro 0 0', 'tmpfs /run tmpfs rw 0 0'],
    });
    const [card, usb] = await listBlockDisks(root);
    expect(card).toMatchObject({ readOnly: true, mountedPartitions: [] });
    expect(usb).toMatchObject({ readOnly: false, mountedPartitions: ['sda1'] });
  });

  it('finds nothing where there is no /sys/block', async () => {
    expect(await listBlockDisks(join(root, 'nowhere'))).toEqual([]);
  });
});

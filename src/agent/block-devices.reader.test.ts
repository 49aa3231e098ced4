import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../disk-layout/test-support/disk-image.builder.js';
import { describeDisk, listBlockDisks, readDiskId } from './block-devices.reader.js';
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

  it('reads each disk\'s MBR disk identifier through its /dev node, and none where there is no MBR or node', async () => {
    const mbr = Buffer.alloc(1024);
    mbr.writeUInt32LE(0x1a2b3c4d, 440);
    mbr.writeUInt16BE(0x55aa, 510);
    await writeFile(join(root, 'stick.img'), mbr);
    await writeFile(join(root, 'blank.img'), Buffer.alloc(1024));
    await buildFakeBoard(root, { disks: [{ name: 'sda', kind: 'usb', image: join(root, 'stick.img') }, { name: 'sdb', kind: 'usb', image: join(root, 'blank.img') }, { name: 'sdc', kind: 'usb' }] });
    expect((await listBlockDisks(root)).map((disk) => [disk.name, disk.diskId])).toEqual([['sda', '1a2b3c4d'], ['sdb', null], ['sdc', null]]);
    expect(await readDiskId(join(root, 'missing.img'))).toBeNull();
  });

  it('finds nothing where there is no /sys/block', async () => {
    expect(await listBlockDisks(join(root, 'nowhere'))).toEqual([]);
  });
});

import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../disk-layout/test-support/disk-image.builder.js';
import { formatBytes } from '../contracts/format.js';
import { describeCard, readCardIdentity } from './card-identity.reader.js';
import { buildFakeBoard } from './test-support/fake-board.js';

describe('readCardIdentity', () => {
  let root: string;
  beforeEach(async () => {
    root = await makeTempDir();
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('reads an SD card\'s CID fields and names its manufacturer', async () => {
    await buildFakeBoard(root, {
      disks: [
        {
          name: 'mmcblk0',
          kind: 'sd-card',
          sizeBytes: 31_914_983_424,
          model: 'SN32G',
          deviceFiles: { cid: '035344534E333247801A2B3C4D0171A5', manfid: '0x000003', oemid: '0x5344', serial: '0x1a2b3c4d', date: '01/2023' },
        },
      ],
    });
    const card = await readCardIdentity(join(root, 'dev/mmcblk0'), root);
    expect(card).toEqual({ kind: 'sd', manufacturer: 'SanDisk', name: 'SN32G', serial: '0x1a2b3c4d', cid: '035344534e333247801a2b3c4d0171a5', size_bytes: 31_914_983_424 });
    expect(describeCard(card!, formatBytes)).toBe('SanDisk SN32G, serial 0x1a2b3c4d, 29.7 GiB');
  });

  it('says when an SD card carries no real manufacturer id, and drops a malformed CID', async () => {
    await buildFakeBoard(root, { disks: [{ name: 'mmcblk0', kind: 'sd-card', sizeBytes: 128e9, model: 'NCard', deviceFiles: { cid: 'zz', manfid: '0x000000' } }] });
    const card = await readCardIdentity('/dev/mmcblk0', root);
    expect(card).toMatchObject({ kind: 'sd', manufacturer: expect.stringMatching(/^none .*counterfeit/), name: 'NCard', serial: null, cid: null });
  });

  it('reads an NVMe drive\'s model and serial from its controller, and a USB drive\'s vendor', async () => {
    await buildFakeBoard(root, {
      disks: [
        { name: 'nvme0n1', kind: 'nvme', sizeBytes: 256e9, model: 'Samsung SSD 980 250GB', deviceFiles: { serial: 'S64BNJ0R123456', firmware_rev: '3B4QFXO7' } },
        { name: 'sda', kind: 'usb', sizeBytes: 64e9, model: 'Ultra Fit', deviceFiles: { vendor: 'SanDisk' } },
      ],
    });
    expect(await readCardIdentity('/dev/nvme0n1', root)).toEqual({ kind: 'nvme', manufacturer: null, name: 'Samsung SSD 980 250GB', serial: 'S64BNJ0R123456', size_bytes: 256e9 });
    expect(await readCardIdentity('/dev/sda', root)).toMatchObject({ kind: 'usb', manufacturer: 'SanDisk', name: 'Ultra Fit', serial: null });
  });

  it('knows nothing of a file standing in for a card, an empty reader or a name /sys does not list', async () => {
    await buildFakeBoard(root, { disks: [{ name: 'mmcblk0', kind: 'sd-card', sizeBytes: 0 }] });
    await writeFile(join(root, 'disk.img'), '');
    expect(await readCardIdentity(join(root, 'disk.img'), root)).toBeNull();
    expect(await readCardIdentity('/dev/mmcblk0', root)).toBeNull();
    expect(await readCardIdentity('/dev/nvme9n9', join(root, 'nowhere'))).toBeNull();
  });
});

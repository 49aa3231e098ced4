// A Raspberry Pi's /sys, /proc and /dev as the installer reads them, built from real files and symlinks below a
// folder: /sys/block entries linked into /sys/devices the way the kernel lays them out (an SD card under its MMC
// host, an NVMe drive under PCIe, a USB drive under a USB port), the device tree's /chosen/bootloader, and the
// bootloader configuration's NVMEM copy found through the `blconfig` alias. A disk can be backed by a real block
// device (a loop device): its /dev node is then made with the loop device's numbers, so what is opened is real.
import { execFile } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type FakeDiskKind = 'sd-card' | 'emmc' | 'nvme' | 'usb' | 'sata' | 'virtio';

export interface FakeDisk {
  name: string;
  kind: FakeDiskKind;
  sizeBytes?: number;
  readOnly?: boolean;
  model?: string;
  partitions?: number;
  /** A real block device ("major:minor") the /dev node stands for; without it /dev/<name> is not created. */
  backedBy?: string;
  /** A disk image file whose bytes /dev/<name> shows (a link to it): what the installer reads, e.g. an MBR. */
  image?: string;
  /** More files of the card's or drive's device folder: an SD card's cid, manfid, oemid, serial, date; an NVMe drive's serial, firmware_rev. */
  deviceFiles?: Record<string, string>;
}

export interface FakeBoard {
  model?: string;
  disks: FakeDisk[];
  /** The bootloader's EEPROM configuration as its NVMEM copy holds it; undefined: no copy (older firmware). */
  bootloaderConfig?: string;
  /** /chosen/bootloader/boot-mode (2 = network); undefined: no /chosen/bootloader (not a Raspberry Pi). */
  bootMode?: number;
  /** Lines of /proc/self/mounts. */
  mounts?: string[];
}

const DEVICE_TREE = 'sys/firmware/devicetree/base';

/** Where each kind of disk sits in /sys/devices, and the folder its `device` link points to. */
function devicePath(disk: FakeDisk, index: number): { blockDir: string; deviceDir: string } {
  switch (disk.kind) {
    case 'sd-card':
    case 'emmc': {
      const device = `sys/devices/platform/emmc2bus/fe340000.mmc/mmc_host/mmc${index}/mmc${index}:0001`;
      return { deviceDir: device, blockDir: `${device}/block/${disk.name}` };
    }
    case 'nvme': {
      const device = `sys/devices/platform/axi/1000110000.pcie/pci0001:00/0001:00:00.0/0001:01:00.0/nvme/nvme${index}`;
      return { deviceDir: device, blockDir: `${device}/${disk.name}` };
    }
    case 'usb': {
      const device = `sys/devices/platform/axi/1000120000.pcie/1f00200000.usb/xhci-hcd.0/usb1/1-${index + 1}/1-${index + 1}:1.0/host${index}/target${index}:0:0/${index}:0:0:0`;
      return { deviceDir: device, blockDir: `${device}/block/${disk.name}` };
    }
    case 'sata': {
      const device = `sys/devices/platform/axi/1000110000.pcie/pci0001:00/0001:00:00.0/0001:01:00.0/ata${index + 1}/host${index}/target${index}:0:0/${index}:0:0:0`;
      return { deviceDir: device, blockDir: `${device}/block/${disk.name}` };
    }
    case 'virtio': {
      const device = `sys/devices/platform/a003e00.virtio_mmio/virtio${index}`;
      return { deviceDir: device, blockDir: `${device}/block/${disk.name}` };
    }
  }
}

async function link(root: string, at: string, to: string): Promise<void> {
  await mkdir(dirname(join(root, at)), { recursive: true });
  await symlink(relative(dirname(join(root, at)), join(root, to)), join(root, at));
}

async function writeAt(root: string, path: string, content: string | Buffer): Promise<void> {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await writeFile(join(root, path), content);
}

export async function buildFakeBoard(root: string, board: FakeBoard): Promise<void> {
  await mkdir(join(root, 'sys/block'), { recursive: true });
  await mkdir(join(root, 'dev'), { recursive: true });
  for (const [index, disk] of board.disks.entries()) {
    const { blockDir, deviceDir } = devicePath(disk, index);
    const sectors = Math.floor((disk.sizeBytes ?? 32 * 1024 ** 3) / 512);
    await writeAt(root, `${blockDir}/size`, `${sectors}\n`);
    await writeAt(root, `${blockDir}/ro`, `${disk.readOnly ? 1 : 0}\n`);
    await writeAt(root, `${blockDir}/removable`, `${disk.kind === 'sd-card' ? 1 : 0}\n`);
    await writeAt(root, `${blockDir}/queue/logical_block_size`, '512\n');
    for (let p = 1; p <= (disk.partitions ?? 0); p++) {
      const part = /\d$/.test(disk.name) ? `${disk.name}p${p}` : `${disk.name}${p}`;
      await writeAt(root, `${blockDir}/${part}/partition`, `${p}\n`);
    }
    await link(root, `${blockDir}/device`, deviceDir);
    if (disk.kind === 'sd-card' || disk.kind === 'emmc') {
      await writeAt(root, `${deviceDir}/type`, disk.kind === 'emmc' ? 'MMC\n' : 'SD\n');
      await writeAt(root, `${deviceDir}/name`, `${disk.model ?? 'SD32G'}\n`);
    } else if (disk.model) {
      await writeAt(root, `${deviceDir}/model`, `${disk.model}\n`);
    }
    for (const [file, content] of Object.entries(disk.deviceFiles ?? {})) await writeAt(root, `${deviceDir}/${file}`, `${content}\n`);
    if (disk.kind === 'emmc') {
      // An eMMC's hardware boot areas show up as disks of their own; they are never targets.
      for (const area of ['boot0', 'boot1']) {
        const dir = `${deviceDir}/block/${disk.name}/${disk.name}${area}`;
        await writeAt(root, `${dir}/size`, '8192\n');
        await writeAt(root, `${dir}/ro`, '1\n');
        await link(root, `sys/block/${disk.name}${area}`, dir);
      }
    }
    await link(root, `sys/block/${disk.name}`, blockDir);
    if (disk.backedBy) {
      const [major, minor] = disk.backedBy.split(':');
      await link(root, `sys/dev/block/${disk.backedBy}`, blockDir);
      await run('mknod', [join(root, 'dev', disk.name), 'b', major!, minor!]);
    } else if (disk.image) {
      await symlink(disk.image, join(root, 'dev', disk.name));
    }
  }

  if (board.model) await writeAt(root, `${DEVICE_TREE}/model`, `${board.model}\0`);
  if (board.bootMode !== undefined) {
    const cell = Buffer.alloc(4);
    cell.writeUInt32BE(board.bootMode);
    await writeAt(root, `${DEVICE_TREE}/chosen/bootloader/boot-mode`, cell);
    await writeAt(root, `${DEVICE_TREE}/chosen/bootloader/partition`, Buffer.alloc(4));
  }
  if (board.bootloaderConfig !== undefined) {
    // The firmware reserves memory for the text and names it by an alias; the kernel's rmem driver makes it an NVMEM device.
    const node = 'reserved-memory/nvram@0';
    await writeAt(root, `${DEVICE_TREE}/aliases/blconfig`, `/${node}\0`);
    await mkdir(join(root, DEVICE_TREE, node), { recursive: true });
    const memory = Buffer.alloc(4096);
    memory.write(board.bootloaderConfig, 'utf8');
    await writeAt(root, 'sys/devices/platform/reserved-memory/rmem0/nvmem', memory);
    await link(root, 'sys/devices/platform/reserved-memory/rmem0/of_node', `${DEVICE_TREE}/${node}`);
    await link(root, 'sys/bus/nvmem/devices/rmem0', 'sys/devices/platform/reserved-memory/rmem0');
  }
  await writeAt(root, 'proc/self/mounts', (board.mounts ?? ['proc /proc proc rw 0 0', 'tmpfs /run tmpfs rw 0 0']).join('\n') + '\n');
}

/** A bootloader configuration as `rpi-eeprom-config` prints it. */
export function eepromConfig(bootOrder: string | null, extra: string[] = []): string {
  return ['[all]', 'BOOT_UART=1', 'POWER_OFF_ON_HALT=0', ...(bootOrder === null ? [] : [`BOOT_ORDER=${bootOrder}`]), ...extra, ''].join('\n');
}

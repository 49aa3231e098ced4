// The disks this board has, from /sys/block, and what kind each is: what decides whether the bootloader can start
// a system from it (SD card or eMMC, NVMe, USB drive) and which BOOT_ORDER mode reaches it. Read below a root
// folder, so tests build /sys and /dev from real files.
import { open, readdir, readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { formatBytes } from '../contracts/format.js';

/** `other`: a disk the bootloader cannot start a system from (SATA behind PCIe, virtio, …). */
export type DiskMedium = 'sd-card' | 'emmc' | 'nvme' | 'usb' | 'other';

export interface BlockDisk {
  /** The kernel's name: mmcblk0, nvme0n1, sda. */
  name: string;
  /** Where to open it: <root>/dev/<name>. */
  devicePath: string;
  medium: DiskMedium;
  sizeBytes: number;
  readOnly: boolean;
  /** Names of its partitions that are mounted (a disk in use is never a target). */
  mountedPartitions: string[];
  /** The drive's or card's own name, when the kernel has one. */
  model: string | null;
  /** Its MBR disk identifier (PTUUID), when it has one: how the installer stick is recognised. */
  diskId: string | null;
}

export const MEDIUM_NAMES: Readonly<Record<DiskMedium, string>> = {
  'sd-card': 'SD card',
  emmc: 'eMMC',
  nvme: 'NVMe drive',
  usb: 'USB drive',
  other: 'disk the bootloader cannot start from',
};

// Not disks at all (loop, RAM, device-mapper, optical, network block devices), and an eMMC's hardware boot areas.
const NOT_A_TARGET = /^(loop|ram|zram|dm-|md|sr|fd|nbd|mtdblock)\d*|^mmcblk\d+(boot\d+|rpmb)$/;

async function readText(path: string): Promise<string | null> {
  const text = await readFile(path, 'utf8').catch(() => null);
  return text === null ? null : text.replace(/\0+$/, '').trim();
}

async function classify(root: string, name: string): Promise<DiskMedium> {
  if (/^mmcblk\d+$/.test(name)) {
    // The card's type: "SD" for a card in the slot, "MMC" for soldered eMMC (Compute Modules).
    return (await readText(join(root, 'sys/block', name, 'device/type'))) === 'MMC' ? 'emmc' : 'sd-card';
  }
  if (/^nvme\d+n\d+$/.test(name)) return 'nvme';
  const sysPath = await realpath(join(root, 'sys/block', name)).catch(() => '');
  // A SCSI disk is a USB drive when its device sits below a USB port; SATA or SAS disks are not bootable.
  if (/^sd[a-z]+$/.test(name) && /\/usb\d+\//.test(sysPath)) return 'usb';
  return 'other';
}

/** Mount sources of /proc/self/mounts, by their device name ("/dev/mmcblk0p2" → "mmcblk0p2"). */
async function readMountedDevices(root: string): Promise<Set<string>> {
  const mounts = (await readText(join(root, 'proc/self/mounts'))) ?? '';
  const names = new Set<string>();
  for (const line of mounts.split('\n')) {
    const source = line.split(' ')[0] ?? '';
    if (source.startsWith('/dev/')) names.add(source.slice('/dev/'.length));
  }
  return names;
}

export async function listBlockDisks(root = '/'): Promise<BlockDisk[]> {
  const names = await readdir(join(root, 'sys/block')).catch(() => [] as string[]);
  const mounted = await readMountedDevices(root);
  const disks: BlockDisk[] = [];
  for (const name of names.sort()) {
    if (NOT_A_TARGET.test(name)) continue;
    const dir = join(root, 'sys/block', name);
    const sectors = Number(await readText(join(dir, 'size')));
    // An empty card reader reports a size of 0: nothing to write to.
    if (!Number.isFinite(sectors) || sectors <= 0) continue;
    const partitions = (await readdir(dir).catch(() => [] as string[])).filter((entry) => entry.startsWith(name));
    disks.push({
      name,
      devicePath: join(root, 'dev', name),
      medium: await classify(root, name),
      sizeBytes: sectors * 512,
      readOnly: (await readText(join(dir, 'ro'))) === '1',
      mountedPartitions: [name, ...partitions].filter((part) => mounted.has(part)),
      model: (await readText(join(dir, 'device/model'))) || (await readText(join(dir, 'device/name'))) || null,
      diskId: await readDiskId(join(root, 'dev', name)),
    });
  }
  return disks;
}

/** "nvme0n1 (NVMe drive, 238.5 GiB, Samsung SSD 980)". */
export function describeDisk(disk: BlockDisk): string {
  return `${disk.name} (${[MEDIUM_NAMES[disk.medium], formatBytes(disk.sizeBytes), disk.model].filter(Boolean).join(', ')})`;
}

/**
 * The MBR disk identifier (as blkid prints PTUUID: 8 hex digits) of a disk or disk image, or null when it has no
 * MBR, none set, or cannot be read. The installer stick is named by it on its own kernel command line.
 */
export async function readDiskId(path: string): Promise<string | null> {
  const handle = await open(path, 'r').catch(() => null);
  if (!handle) return null;
  try {
    const mbr = Buffer.alloc(512);
    const { bytesRead } = await handle.read(mbr, 0, 512, 0);
    if (bytesRead < 512 || mbr[510] !== 0x55 || mbr[511] !== 0xaa) return null;
    const id = mbr.readUInt32LE(440).toString(16).padStart(8, '0');
    return id === '00000000' ? null : id;
  } catch {
    return null;
  } finally {
    await handle.close();
  }
}

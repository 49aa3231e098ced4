// What the card being written says it is: an SD card's CID register (manufacturer, OEM, product name, serial,
// date), an NVMe drive's model, serial and firmware, a USB drive's vendor and model, and the size the card
// claims. Read from /sys/block below a root folder, so tests build the tree from real files.
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describeSdManufacturer, type CardIdentity } from '../contracts/card-health.js';
import { listBlockDisks, type DiskMedium } from './block-devices.reader.js';

async function readText(path: string): Promise<string | null> {
  const text = await readFile(path, 'utf8').catch(() => null);
  const trimmed = text?.replace(/\0+$/, '').trim();
  return trimmed ? trimmed.slice(0, 64) : null;
}

const KIND_OF_MEDIUM: Readonly<Record<DiskMedium, CardIdentity['kind']>> = { 'sd-card': 'sd', emmc: 'sd', nvme: 'nvme', usb: 'usb', other: 'other' };

/**
 * The identity of the disk at `devicePath` (a /dev node, or one below `root`), or null where it is no disk of
 * /sys/block (a file standing in for a card, the sink).
 */
export async function readCardIdentity(devicePath: string, root = '/'): Promise<CardIdentity | null> {
  const name = basename(devicePath);
  const disk = (await listBlockDisks(root)).find((d) => d.name === name);
  if (!disk) return null;
  const device = join(root, 'sys/block', name, 'device');
  const kind = KIND_OF_MEDIUM[disk.medium];
  if (kind === 'sd') {
    const cid = await readText(join(device, 'cid'));
    return {
      kind,
      manufacturer: describeSdManufacturer(await readText(join(device, 'manfid'))),
      name: await readText(join(device, 'name')),
      serial: await readText(join(device, 'serial')),
      cid: cid && /^[0-9a-f]{32}$/i.test(cid) ? cid.toLowerCase() : null,
      size_bytes: disk.sizeBytes,
    };
  }
  return {
    kind,
    // An NVMe controller names no vendor apart from its model; a USB drive has both.
    manufacturer: kind === 'usb' ? await readText(join(device, 'vendor')) : null,
    name: await readText(join(device, 'model')),
    serial: await readText(join(device, 'serial')),
    size_bytes: disk.sizeBytes,
  };
}

/** "SanDisk SN32G, serial 0x1a2b3c4d, 29.7 GiB" style, for the installer's log. */
export function describeCard(card: CardIdentity, formatSize: (bytes: number) => string): string {
  const maker = [card.manufacturer, card.name].filter(Boolean).join(' ') || 'unnamed card';
  return `${maker}${card.serial ? `, serial ${card.serial}` : ''}, ${formatSize(card.size_bytes)}`;
}

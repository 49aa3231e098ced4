// What the Raspberry Pi bootloader tells the running system about how it boots: the BOOT_ORDER it walks on every
// start, and the boot mode that started this installer. Read without any Raspberry Pi tool (the installer has none):
//   BOOT_ORDER  from the copy of the bootloader's EEPROM configuration that the firmware leaves in memory as an NVMEM
//               device, found through the `blconfig` alias of the device tree — the same text `rpi-eeprom-config`
//               prints (it reads it the same way). BOOT_ORDER there is written as hex, e.g. `BOOT_ORDER=0xf21`.
//               The device tree has no boot-order property of its own (none is documented for /chosen/bootloader).
//   boot-mode   /chosen/bootloader/boot-mode: a big-endian 32-bit integer, one BOOT_ORDER mode (2 = network).
// Everything is read below a root folder, so tests build the tree from real files.
import { readdir, readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';

/** BOOT_ORDER modes (raspberrypi.com documentation, "BOOT_ORDER"). */
export const BOOT_MODE_NAMES: Readonly<Record<number, string>> = {
  0x0: 'SD card (then wait for a card change)',
  0x1: 'SD card/eMMC',
  0x2: 'network',
  0x3: 'RPIBOOT (USB device mode)',
  0x4: 'USB drive',
  0x5: 'USB drive (USB 2.0 port)',
  0x6: 'NVMe',
  0x7: 'HTTP',
  0xe: 'stop',
  0xf: 'restart',
};

export const NETWORK_BOOT_MODES: readonly number[] = [0x2, 0x7];

export interface BootOrder {
  /** As configured, e.g. "0xf216". */
  value: string;
  /** The modes tried, first to last, before the walk restarts or stops. */
  modes: number[];
  /** What follows the last mode: start again (f), stop (e), or no terminator (the bootloader then waits on the SD card). */
  then: 'restart' | 'stop' | 'wait';
}

export class BootOrderError extends Error {}

/** "0xf216" → modes [6, 1, 2], then restart: BOOT_ORDER is read from its lowest nibble up, at most 8 of them. */
export function parseBootOrder(text: string): BootOrder {
  const value = text.trim();
  const match = /^(?:0x)?([0-9a-f]{1,8})$/i.exec(value);
  if (!match) throw new BootOrderError(`BOOT_ORDER "${value}" is not a hexadecimal number of at most 8 digits`);
  const digits = [...match[1]!.toLowerCase()].reverse().map((d) => parseInt(d, 16));
  const modes: number[] = [];
  for (const digit of digits) {
    if (digit === 0xf) return { value, modes, then: 'restart' };
    if (digit === 0xe) return { value, modes, then: 'stop' };
    if (!(digit in BOOT_MODE_NAMES)) throw new BootOrderError(`BOOT_ORDER "${value}" holds ${digit.toString(16)}, which is no boot mode`);
    modes.push(digit);
  }
  // Past the written digits the 32-bit value holds zeros: SD CARD DETECT, which waits for a card change.
  return { value, modes, then: 'wait' };
}

/** "0xf216 (NVMe, SD card/eMMC, network, then again)". */
export function describeBootOrder(order: BootOrder): string {
  const then = { restart: 'then again', stop: 'then stop', wait: 'then wait for an SD card' }[order.then];
  return `${order.value} (${[...order.modes.map((m) => BOOT_MODE_NAMES[m]), then].join(', ')})`;
}

export interface BootloaderConfig {
  /** BOOT_ORDER outside any conditional section; null if the file sets none there. */
  bootOrder: string | null;
  /** A BOOT_ORDER under a filter ([gpio4=1], [pi5] …) that this installer cannot evaluate. */
  conditionalBootOrder: boolean;
  pcieProbe: boolean;
}

/** The bootloader's EEPROM configuration (config.txt syntax; `[all]` and no section apply always, `[none]` never). */
export function parseBootloaderConfig(text: string): BootloaderConfig {
  const config: BootloaderConfig = { bootOrder: null, conditionalBootOrder: false, pcieProbe: false };
  let section: 'always' | 'never' | 'conditional' = 'always';
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const header = /^\[([^\]]*)\]$/.exec(line);
    if (header) {
      const filter = header[1]!.trim().toLowerCase();
      section = filter === 'all' ? 'always' : filter === 'none' ? 'never' : 'conditional';
      continue;
    }
    const setting = /^([A-Z0-9_]+)\s*=\s*(.*)$/i.exec(line);
    if (!setting || section === 'never') continue;
    const [, key, value] = setting;
    if (key!.toUpperCase() === 'BOOT_ORDER') {
      if (section === 'always') config.bootOrder = value!.trim();
      else config.conditionalBootOrder = true;
    } else if (key!.toUpperCase() === 'PCIE_PROBE' && section === 'always') {
      config.pcieProbe = value!.trim() === '1';
    }
  }
  return config;
}

export interface BootloaderState {
  /** The boot order the board walks; null when it cannot be known (see `unknownBecause`). */
  bootOrder: BootOrder | null;
  unknownBecause: string | null;
  /** The mode that started this system (2 for a network-booted installer); null off a Raspberry Pi. */
  bootMode: number | null;
  /** PCIE_PROBE=1: the bootloader looks for NVMe drives on adapters that are not HAT+. Null without the configuration. */
  pcieProbe: boolean | null;
}

const DEVICE_TREE = 'sys/firmware/devicetree/base';

async function readBytes(path: string): Promise<Buffer | null> {
  return readFile(path).catch(() => null);
}

/** A device-tree 32-bit cell: big-endian. */
function readCell(bytes: Buffer | null): number | null {
  return bytes && bytes.length === 4 ? bytes.readUInt32BE(0) : null;
}

/** The bootloader configuration text from its NVMEM copy, found as rpi-eeprom-config finds it; null if absent. */
export async function readBootloaderConfigText(root: string): Promise<string | null> {
  const alias = await readBytes(join(root, DEVICE_TREE, 'aliases/blconfig'));
  if (!alias) return null;
  const nodePath = alias.toString('utf8').replace(/\0[\s\S]*$/, '').trim();
  if (!nodePath.startsWith('/')) return null;
  const node = await realpath(join(root, DEVICE_TREE, nodePath)).catch(() => null);
  if (!node) return null;
  const devices = join(root, 'sys/bus/nvmem/devices');
  for (const name of await readdir(devices).catch(() => [] as string[])) {
    const ofNode = await realpath(join(devices, name, 'of_node')).catch(() => null);
    if (ofNode !== node) continue;
    const content = await readBytes(join(devices, name, 'nvmem'));
    // The reserved memory is larger than the text; the rest is zeros.
    return content ? content.toString('utf8').replace(/\0[\s\S]*$/, '') : null;
  }
  return null;
}

export async function readBootloaderState(root = '/'): Promise<BootloaderState> {
  const bootMode = readCell(await readBytes(join(root, DEVICE_TREE, 'chosen/bootloader/boot-mode')));
  const text = await readBootloaderConfigText(root);
  if (text === null) {
    const why = bootMode === null
      ? 'this is not a Raspberry Pi 4/5 bootloader (no /chosen/bootloader in the device tree)'
      : 'the firmware left no copy of the bootloader configuration (no blconfig NVMEM device: an older bootloader or kernel?)';
    return { bootOrder: null, unknownBecause: why, bootMode, pcieProbe: null };
  }
  const config = parseBootloaderConfig(text);
  if (config.conditionalBootOrder) {
    return { bootOrder: null, unknownBecause: 'BOOT_ORDER is set under a conditional section of the bootloader configuration', bootMode, pcieProbe: config.pcieProbe };
  }
  if (config.bootOrder === null) {
    return { bootOrder: null, unknownBecause: 'the bootloader configuration sets no BOOT_ORDER (its default depends on the model and the bootloader version)', bootMode, pcieProbe: config.pcieProbe };
  }
  try {
    return { bootOrder: parseBootOrder(config.bootOrder), unknownBecause: null, bootMode, pcieProbe: config.pcieProbe };
  } catch (error) {
    return { bootOrder: null, unknownBecause: (error as Error).message, bootMode, pcieProbe: config.pcieProbe };
  }
}

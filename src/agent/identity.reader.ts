// Who this board is: serial number, MAC address and model, read from the places a Raspberry Pi exposes them.
// Every source can be overridden (flags for tests and the simulator, `root` for a fake /proc and /sys tree).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface DeviceIdentity {
  serial: string | null;
  mac: string | null;
  model: string | null;
  /** The network interface the MAC was read from. */
  iface: string | null;
}

export interface IdentitySources {
  /** Prefix for /proc and /sys (default "/"). */
  root?: string;
  iface?: string | null;
  serial?: string | null;
  mac?: string | null;
  model?: string | null;
}

export async function readIdentity(sources: IdentitySources = {}): Promise<DeviceIdentity> {
  const root = sources.root ?? '/';
  const serial = sources.serial ? normalizeSerial(sources.serial) : await readSerial(root);
  const model = sources.model?.trim() || (await readModel(root));
  let mac = sources.mac ? normalizeMac(sources.mac) : null;
  let iface = sources.iface ?? null;
  if (!mac) {
    const found = await readMac(root, iface);
    mac = found?.mac ?? null;
    iface = found?.iface ?? iface;
  }
  return { serial, mac, model, iface };
}

async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

/** Device-tree strings end in NUL. */
const stripNul = (text: string): string => text.replace(/\0+$/g, '').trim();

async function readSerial(root: string): Promise<string | null> {
  const fromTree = await readText(join(root, 'sys/firmware/devicetree/base/serial-number'));
  if (fromTree && normalizeSerial(stripNul(fromTree))) return normalizeSerial(stripNul(fromTree));
  const cpuinfo = await readText(join(root, 'proc/cpuinfo'));
  return cpuinfo ? parseCpuinfoField(cpuinfo, 'Serial') : null;
}

async function readModel(root: string): Promise<string | null> {
  const fromTree = await readText(join(root, 'sys/firmware/devicetree/base/model'));
  if (fromTree && stripNul(fromTree)) return stripNul(fromTree);
  const cpuinfo = await readText(join(root, 'proc/cpuinfo'));
  return cpuinfo ? parseCpuinfoField(cpuinfo, 'Model', false) : null;
}

/** A `Key : value` line of /proc/cpuinfo; serials are reduced to their alphanumeric form. */
export function parseCpuinfoField(cpuinfo: string, key: string, asSerial = true): string | null {
  for (const line of cpuinfo.split('\n')) {
    const match = /^([^:]+?)\s*:\s*(.*)$/.exec(line);
    if (match && match[1]!.trim().toLowerCase() === key.toLowerCase()) {
      const value = match[2]!.trim();
      return asSerial ? normalizeSerial(value) : value || null;
    }
  }
  return null;
}

/** Serials are hex on a Pi; anything outside [A-Za-z0-9] is dropped. An all-zero serial means "unknown". */
export function normalizeSerial(value: string): string | null {
  const serial = value.replace(/[^A-Za-z0-9]/g, '');
  if (!serial || /^0+$/.test(serial) || serial.length > 64) return null;
  return serial;
}

/** Lower-case, colon-separated; null for malformed or all-zero addresses. */
export function normalizeMac(value: string): string | null {
  const hex = value.trim().toLowerCase().replace(/[:-]/g, '');
  if (!/^[0-9a-f]{12}$/.test(hex) || /^0{12}$/.test(hex)) return null;
  return hex.match(/../g)!.join(':');
}

/** The named interface, else the wired one (eth*, en*), else any other with a real address. */
async function readMac(root: string, iface: string | null): Promise<{ mac: string; iface: string } | null> {
  const netDir = join(root, 'sys/class/net');
  let names: string[];
  if (iface) names = [iface];
  else {
    try {
      names = (await readdir(netDir)).filter((name) => name !== 'lo').sort((a, b) => rankInterface(a) - rankInterface(b) || a.localeCompare(b));
    } catch {
      return null;
    }
  }
  for (const name of names) {
    const text = await readText(join(netDir, name, 'address'));
    const mac = text ? normalizeMac(text) : null;
    if (mac) return { mac, iface: name };
  }
  return null;
}

const rankInterface = (name: string): number => (name === 'eth0' ? 0 : /^(eth|en)/.test(name) ? 1 : /^wl/.test(name) ? 3 : 2);

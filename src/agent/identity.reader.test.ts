import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { normalizeMac, normalizeSerial, parseCpuinfoField, readIdentity } from './identity.reader.js';
import { makeTempDir } from '../disk-layout/test-support/disk-image.builder.js';

const CPUINFO_PI4 = `processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid

Hardware\t: BCM2835
Revision\t: c03114
Serial\t\t: 100000002a5e7c1f
Model\t\t: Raspberry Pi 4 Model B Rev 1.4
`;

describe('readIdentity', () => {
  let root: string;
  beforeEach(async () => {
    root = await makeTempDir();
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });
  const put = async (path: string, content: string) => {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), content);
  };

  it('prefers the device tree, whose strings end in NUL', async () => {
    await put('sys/firmware/devicetree/base/serial-number', '8f3b1c2d4e5a6b7c\0');
    await put('sys/firmware/devicetree/base/model', 'Raspberry Pi 5 Model B Rev 1.0\0');
    await put('proc/cpuinfo', CPUINFO_PI4);
    await put('sys/class/net/eth0/address', 'D8:3A:DD:12:34:56\n');
    await put('sys/class/net/wlan0/address', 'd8:3a:dd:12:34:57\n');
    expect(await readIdentity({ root })).toEqual({ serial: '8f3b1c2d4e5a6b7c', model: 'Raspberry Pi 5 Model B Rev 1.0', mac: 'd8:3a:dd:12:34:56', iface: 'eth0' });
  });

  it('falls back to /proc/cpuinfo and to a wired interface with a real address', async () => {
    await put('proc/cpuinfo', CPUINFO_PI4);
    await put('sys/class/net/lo/address', '00:00:00:00:00:00\n');
    await put('sys/class/net/end0/address', '00:00:00:00:00:00\n');
    await put('sys/class/net/enx0/address', 'dc:a6:32:01:02:03\n');
    await put('sys/class/net/wlan0/address', 'dc:a6:32:01:02:04\n');
    expect(await readIdentity({ root })).toEqual({ serial: '100000002a5e7c1f', model: 'Raspberry Pi 4 Model B Rev 1.4', mac: 'dc:a6:32:01:02:03', iface: 'enx0' });
  });

  it('takes every source from overrides', async () => {
    await put('proc/cpuinfo', CPUINFO_PI4);
    expect(await readIdentity({ root, serial: 'SIM-0001', mac: '02-00-00-00-00-01', model: 'Simulated Pi' })).toEqual({
      serial: 'SIM0001',
      mac: '02:00:00:00:00:01',
      model: 'Simulated Pi',
      iface: null,
    });
  });

  it('reads a named interface only', async () => {
    await put('sys/class/net/eth0/address', 'dc:a6:32:01:02:03\n');
    await put('sys/class/net/eth1/address', 'dc:a6:32:01:02:09\n');
    expect(await readIdentity({ root, iface: 'eth1' })).toMatchObject({ mac: 'dc:a6:32:01:02:09', iface: 'eth1' });
  });

  it('answers null where a board tells nothing', async () => {
    expect(await readIdentity({ root })).toEqual({ serial: null, mac: null, model: null, iface: null });
  });
});

describe('identity normalisation', () => {
  it('cleans serials and refuses unknown ones', () => {
    expect(normalizeSerial(' 10000000abcdef01\n')).toBe('10000000abcdef01');
    expect(normalizeSerial('0000000000000000')).toBeNull();
    expect(normalizeSerial('')).toBeNull();
    expect(normalizeSerial('x'.repeat(65))).toBeNull();
  });

  it('accepts colon and dash MACs and refuses malformed or all-zero ones', () => {
    expect(normalizeMac('DC-A6-32-01-02-03')).toBe('dc:a6:32:01:02:03');
    expect(normalizeMac('dca632010203')).toBe('dc:a6:32:01:02:03');
    expect(normalizeMac('00:00:00:00:00:00')).toBeNull();
    expect(normalizeMac('dc:a6:32:01:02')).toBeNull();
    expect(normalizeMac('zz:a6:32:01:02:03')).toBeNull();
  });

  it('reads cpuinfo fields case-insensitively', () => {
    expect(parseCpuinfoField(CPUINFO_PI4, 'serial')).toBe('100000002a5e7c1f');
    expect(parseCpuinfoField(CPUINFO_PI4, 'Model', false)).toBe('Raspberry Pi 4 Model B Rev 1.4');
    expect(parseCpuinfoField('processor : 0\n', 'Serial')).toBeNull();
  });
});

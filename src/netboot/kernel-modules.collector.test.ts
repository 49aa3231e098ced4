import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readCpioArchive } from './cpio.writer.js';
import { readModinfo } from './elf.reader.js';
import { collectKernelModules, createModulesOverlay, MODULE_LOAD_ORDER, parseModulesDep, readModuleFile } from './kernel-modules.collector.js';
import { writeModuleTree, type TreeModule } from './test-support/kernel-module.builder.js';

// A USB Ethernet adapter's driver as Raspberry Pi OS ships it (.ko.xz), with its dependencies in every format a
// kernel may use, and one plain .ko.
const USB_ETHERNET: TreeModule[] = [
  { name: 'mii', dir: 'kernel/drivers/net', compression: 'gzip', code: randomBytes(3000) },
  { name: 'usbnet', dir: 'kernel/drivers/net/usb', compression: 'zstd', depends: ['mii'], code: randomBytes(5000) },
  { name: 'r8152', dir: 'kernel/drivers/net/usb', compression: 'xz', depends: ['usbnet', 'mii'], code: randomBytes(9000) },
  { name: 'cdc_ether', dir: 'kernel/drivers/net/usb', compression: 'none', depends: ['usbnet'], code: randomBytes(2000) },
  { name: 'ax88179_178a', dir: 'kernel/drivers/net/usb', compression: 'xz', depends: ['usbnet'], code: randomBytes(4000) },
];

describe('kernel modules for the installer initramfs', () => {
  let dir: string;
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'pitcrew-modules-')); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  it('decompresses .ko.xz, .ko.zst and .ko.gz modules and orders them by modules.dep, dependencies first', async () => {
    const tree = await writeModuleTree(dir, USB_ETHERNET);
    expect((await readFile(join(dir, tree.paths.get('r8152')!))).subarray(0, 6).toString('latin1')).toBe('\xfd7zXZ\0');

    const modules = await collectKernelModules(dir, ['r8152']);
    expect(modules.map((m) => m.name)).toEqual(['mii', 'usbnet', 'r8152']);
    expect(modules.map((m) => m.file)).toEqual(['kernel/drivers/net/mii.ko.gz', 'kernel/drivers/net/usb/usbnet.ko.zst', 'kernel/drivers/net/usb/r8152.ko.xz']);
    for (const module of modules) expect(module.data.equals(tree.plain.get(module.name)!)).toBe(true);
  });

  it('writes plain .ko files into the overlay, in an order busybox insmod can follow', async () => {
    const tree = await writeModuleTree(dir, USB_ETHERNET);
    const modules = await collectKernelModules(dir, ['r8152', 'cdc-ether', 'ax88179_178a']);
    expect(modules.map((m) => m.name)).toEqual(['mii', 'usbnet', 'r8152', 'cdc_ether', 'ax88179_178a']);

    const entries = readCpioArchive(createModulesOverlay([{ version: null, modules }], 0));
    const files = new Map(entries.flatMap((e) => (e.kind === 'file' ? [[e.path, e.data] as const] : [])));
    expect((files.get(MODULE_LOAD_ORDER) ?? Buffer.alloc(0)).toString()).toBe('mii.ko\nusbnet.ko\nr8152.ko\ncdc_ether.ko\nax88179_178a.ko\n');
    for (const name of ['mii', 'usbnet', 'r8152', 'cdc_ether', 'ax88179_178a']) {
      const data = files.get(`usr/lib/modules/pitcrew/${name}.ko`);
      expect(data?.equals(tree.plain.get(name)!), name).toBe(true);
      expect(readModinfo(data!).get('name')).toEqual([name]);
    }
    expect([...files.keys()].filter((path) => /\.(xz|zst|gz)$/.test(path))).toEqual([]);
  });

  it('reads dependencies from each module when the tree has no modules.dep', async () => {
    await writeModuleTree(dir, USB_ETHERNET, { withModulesDep: false });
    expect((await collectKernelModules(dir, ['r8152'])).map((m) => m.name)).toEqual(['mii', 'usbnet', 'r8152']);
  });

  it('names a module the kernel does not have, and the module that needed it', async () => {
    await writeModuleTree(dir, USB_ETHERNET);
    await expect(collectKernelModules(dir, ['no_such_driver'])).rejects.toThrow(/kernel module "no_such_driver" is not in/);
    await writeFile(join(dir, 'modules.dep'), 'kernel/drivers/net/usb/r8152.ko.xz: kernel/drivers/net/usb/gone.ko.xz\n');
    await expect(collectKernelModules(dir, ['r8152'])).rejects.toThrow(/kernel module "gone" is not in .* \(needed by r8152\)/);
  });

  it('refuses a damaged compressed module, one that is not a module inside, and a modules.dep it cannot read', async () => {
    const tree = await writeModuleTree(dir, USB_ETHERNET);
    const r8152 = join(dir, tree.paths.get('r8152')!);
    await truncate(r8152, 40);
    await expect(collectKernelModules(dir, ['r8152'])).rejects.toThrow(/r8152\.ko\.xz could not be decompressed \(xz\)/);

    const usbnet = join(dir, tree.paths.get('usbnet')!);
    await writeFile(usbnet, execFileSync('zstd', ['-q', '--stdout'], { input: Buffer.from('not an ELF file at all, but long enough to look like one'.repeat(4)) }));
    await expect(readModuleFile(usbnet)).rejects.toThrow(/usbnet\.ko\.zst is not a kernel module once decompressed \(zstd\): not an ELF file/);

    expect(() => parseModulesDep('kernel/a.ko kernel/b.ko\n')).toThrow(/modules\.dep line 1 is not "module\.ko: dependencies"/);
    expect(() => parseModulesDep('kernel/a.ko: kernel/b.txt\n')).toThrow(/names "kernel\/b\.txt", which is not a module file/);
    expect(parseModulesDep('/lib/modules/6.6.51+rpt-rpi-v8/kernel/a.ko.xz:\n').get('a')).toEqual({ rel: 'kernel/a.ko.xz', depends: [] });
  });

  it('says so when a tree holds no modules at all', async () => {
    await expect(collectKernelModules(dir, ['r8152'])).rejects.toThrow(/no kernel modules \(\*\.ko, \*\.ko\.xz, \*\.ko\.zst, \*\.ko\.gz\)/);
  });
});

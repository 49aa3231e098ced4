import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { gunzipSync, gzipSync } from 'node:zlib';
import { buildDiskImage } from '../disk-layout/test-support/disk-image.builder.js';
import { readCpioArchive } from './cpio.writer.js';
import { createBootImage } from './test-support/boot-image.js';
import { writeModuleTree, type TreeModule } from './test-support/kernel-module.builder.js';
import { findBootPartitionOffset, prepareTftpTree, renderCmdline } from './tftp-tree.preparer.js';

/** The lines of every `[name]` section of a config.txt, joined (a section may appear more than once). */
function sectionOf(config: string, name: string): string {
  let current = 'all';
  const lines: string[] = [];
  for (const line of config.split('\n')) {
    const header = /^\[(\w+)\]$/.exec(line.trim());
    if (header) current = header[1]!;
    else if (current === name) lines.push(line);
  }
  return lines.join('\n');
}

describe('TFTP tree from a Raspberry Pi OS image', () => {
  let dir: string;
  let image: string;
  let initramfs: string;
  const kernel8 = randomBytes(70_000);
  const kernel2712 = randomBytes(80_000);
  const start4 = randomBytes(50_000);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pitcrew-tftp-'));
    image = join(dir, 'raspios.img');
    initramfs = join(dir, 'pitcrew-installer.img');
    await writeFile(initramfs, randomBytes(1000));
  });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  const piFiles = () => ({
    'kernel8.img': kernel8,
    'kernel_2712.img': kernel2712,
    'kernel7l.img': randomBytes(100),
    'start4.elf': start4,
    'fixup4.dat': 'fixup',
    'start.elf': 'pi3 firmware',
    'bootcode.bin': 'pi3 bootcode',
    'bcm2711-rpi-4-b.dtb': 'pi4 dt',
    'bcm2711-rpi-400.dtb': 'pi400 dt',
    'bcm2712-rpi-5-b.dtb': 'pi5 dt',
    'bcm2712d0-rpi-5-b.dtb': 'pi5 d0 dt',
    'bcm2710-rpi-3-b.dtb': 'pi3 dt',
    'overlays/vc4-kms-v3d.dtbo': 'overlay',
    'overlays/README': 'overlays readme',
    'cmdline.txt': 'console=serial0,115200 root=PARTUUID=1234-02 rootfstype=ext4',
    'config.txt': '[all]\ndtparam=audio=on\n',
  });

  it('copies the Pi 4/5 boot files, writes config.txt and cmdline.txt for the installer, and adds the initramfs', async () => {
    await createBootImage(image, piFiles());
    const result = await prepareTftpTree({ image, outDir: join(dir, 'tftp'), serverUrl: 'http://10.42.0.1:5001', initramfs });
    expect(result.files).toEqual([
      'bcm2711-rpi-4-b.dtb', 'bcm2711-rpi-400.dtb', 'bcm2712-rpi-5-b.dtb', 'bcm2712d0-rpi-5-b.dtb', 'cmdline.txt', 'config.txt',
      'fixup4.dat', 'kernel8.img', 'kernel_2712.img', 'overlays/README', 'overlays/vc4-kms-v3d.dtbo', 'pitcrew-installer.img', 'start4.elf',
    ]);
    expect(result.warnings).toEqual([]);
    const tftp = join(dir, 'tftp');
    expect((await readFile(join(tftp, 'kernel8.img'))).equals(kernel8)).toBe(true);
    expect((await readFile(join(tftp, 'kernel_2712.img'))).equals(kernel2712)).toBe(true);
    expect((await readFile(join(tftp, 'start4.elf'))).equals(start4)).toBe(true);
    expect((await readFile(join(tftp, 'pitcrew-installer.img'))).equals(await readFile(initramfs))).toBe(true);
    const config = await readFile(join(tftp, 'config.txt'), 'utf8');
    expect(config).toMatch(/^initramfs pitcrew-installer\.img followkernel$/m);
    expect(config).toMatch(/\[pi4\]\nkernel=kernel8\.img/);
    expect(config).toMatch(/\[pi5\]\nkernel=kernel_2712\.img/);
    // Non-HAT+ NVMe adapters stay invisible on a Pi 5 unless the PCIe connector is switched on, and only there.
    expect(sectionOf(config, 'pi5')).toContain('dtparam=pciex1');
    expect(sectionOf(config, 'pi4')).not.toMatch(/pciex1/);
    expect(sectionOf(config, 'all')).not.toMatch(/pciex1/);
    expect(config).not.toMatch(/pciex1_gen/);
    const cmdline = await readFile(join(tftp, 'cmdline.txt'), 'utf8');
    expect(cmdline).toBe('console=serial0,115200 console=tty1 loglevel=4 pitcrew.server=http://10.42.0.1:5001\n');
    expect(cmdline).not.toMatch(/root=/);
    // dnsmasq serves TFTP as an unprivileged user.
    expect((await stat(join(tftp, 'overlays'))).mode & 0o777).toBe(0o755);
    expect((await stat(join(tftp, 'kernel8.img'))).mode & 0o777).toBe(0o644);
  });

  it('replaces an earlier tree completely and leaves no staging folder behind', async () => {
    await createBootImage(image, piFiles());
    await mkdir(join(dir, 'tftp'));
    await writeFile(join(dir, 'tftp', 'stale.txt'), 'old');
    await prepareTftpTree({ image, outDir: join(dir, 'tftp'), serverUrl: 'http://10.42.0.1:5001/', initramfs, extraCmdline: ['pitcrew.shell'] });
    const entries = await readdir(join(dir, 'tftp'));
    expect(entries).not.toContain('stale.txt');
    expect(await readdir(dir)).toEqual(expect.arrayContaining(['tftp', 'raspios.img']));
    expect((await readdir(dir)).filter((name) => name.includes('staging') || name.includes('previous'))).toEqual([]);
    expect(await readFile(join(dir, 'tftp', 'cmdline.txt'), 'utf8')).toMatch(/pitcrew\.server=http:\/\/10\.42\.0\.1:5001 pitcrew\.shell\n$/);
  });

  it('falls back to kernel8.img for the Pi 5 and warns about what is missing', async () => {
    await createBootImage(image, { 'kernel8.img': kernel8, 'bcm2712-rpi-5-b.dtb': 'pi5' });
    const result = await prepareTftpTree({ image, outDir: join(dir, 'tftp'), serverUrl: 'http://10.42.0.1:5001', initramfs });
    expect(result.kernels).toEqual({ pi4: 'kernel8.img', pi5: 'kernel8.img' });
    expect(result.warnings.join('\n')).toMatch(/no start4\.elf: Raspberry Pi 4 boards will not boot/);
    expect(result.warnings.join('\n')).toMatch(/no Raspberry Pi 4 device trees/);
  });

  it('refuses an image without a 64-bit kernel, and leaves the existing tree untouched', async () => {
    await createBootImage(image, { 'kernel7l.img': 'armhf', 'start4.elf': start4 });
    await mkdir(join(dir, 'tftp'));
    await writeFile(join(dir, 'tftp', 'keep.txt'), 'still here');
    await expect(prepareTftpTree({ image, outDir: join(dir, 'tftp'), serverUrl: 'http://10.42.0.1:5001', initramfs })).rejects.toThrow(/has no kernel8\.img: is it a 64-bit Raspberry Pi OS image\?/);
    expect(await readFile(join(dir, 'tftp', 'keep.txt'), 'utf8')).toBe('still here');
  });

  it('explains files that are not disk images', async () => {
    await writeFile(join(dir, 'raspios.img.xz'), randomBytes(4096));
    await expect(findBootPartitionOffset(join(dir, 'raspios.img.xz'))).rejects.toThrow(/not a disk image with a partition table \(it looks compressed/);
    await expect(findBootPartitionOffset(join(dir, 'missing.img'))).rejects.toThrow(/there is no image file/);
    await createBootImage(image, piFiles());
    await expect(prepareTftpTree({ image, outDir: join(dir, 'tftp'), serverUrl: 'http://10.42.0.1:5001', initramfs: join(dir, 'none.img') })).rejects.toThrow(/run `pitcrew netboot build` first/);
  });

  it('accepts only plain http server URLs and safe extra kernel parameters', () => {
    expect(() => renderCmdline('https://10.42.0.1:5001')).toThrow(/must start with http:\/\//);
    expect(() => renderCmdline('not a url')).toThrow(/is not a URL/);
    expect(() => renderCmdline('http://10.42.0.1:5001', ['pitcrew.arg=--x; reboot'])).toThrow(/cannot go on the kernel command line/);
    expect(renderCmdline('http://10.42.0.1:5001', ['pitcrew.arg=--no-reboot'])).toMatch(/pitcrew\.arg=--no-reboot\n$/);
  });
});

// Raspberry Pi OS as shipped: one module tree per kernel release, modules compressed with xz, modules.dep by path.
const USB_ETHERNET: TreeModule[] = [
  { name: 'mii', dir: 'kernel/drivers/net', compression: 'xz' },
  { name: 'usbnet', dir: 'kernel/drivers/net/usb', compression: 'xz', depends: ['mii'] },
  { name: 'r8152', dir: 'kernel/drivers/net/usb', compression: 'xz', depends: ['usbnet', 'mii'] },
  { name: 'snd_usb_audio', dir: 'sound/usb', compression: 'xz' },
];
const PI4_RELEASE = '6.6.51+rpt-rpi-v8';
const PI5_RELEASE = '6.6.51+rpt-rpi-2712';

/** A kernel file with the banner the real ones carry (kernel8.img gzip-compressed, as the firmware accepts). */
const kernelWithBanner = (release: string, compress: boolean): Buffer => {
  const image = Buffer.concat([randomBytes(4096), Buffer.from(`Linux version ${release} (serge@raspberrypi.com) (aarch64-linux-gnu-gcc-12 (Debian 12.2.0-14) 12.2.0) #1 SMP PREEMPT\n`), randomBytes(4096)]);
  return compress ? gzipSync(image) : image;
};

describe('kernel modules for the installer, from the image', () => {
  let dir: string;
  let initramfs: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pitcrew-tftp-modules-'));
    initramfs = join(dir, 'pitcrew-installer.img');
    await writeFile(initramfs, gzipSync(Buffer.from('the installer initramfs')));
  });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  /** The module trees of both kernels as root filesystem files of the image. */
  const moduleFiles = async (releases: string[]) => {
    const files: Record<string, Buffer> = {};
    for (const release of releases) {
      const tree = await writeModuleTree(join(dir, 'trees', release), USB_ETHERNET.map((m) => ({ ...m, code: Buffer.from(`${m.name} for ${release}`) })));
      for (const rel of [...tree.paths.values(), 'modules.dep']) files[`/usr/lib/modules/${release}/${rel}`] = await readFile(join(tree.root, rel));
    }
    return files;
  };

  it('adds the wanted modules and their dependencies for each kernel, decompressed, after the installer initramfs', async () => {
    const image = await buildDiskImage(dir, {
      flavour: 'none',
      bootFiles: { 'kernel8.img': kernelWithBanner(PI4_RELEASE, true), 'kernel_2712.img': kernelWithBanner(PI5_RELEASE, false), 'start4.elf': randomBytes(1000), 'bcm2711-rpi-4-b.dtb': 'pi4', 'bcm2712-rpi-5-b.dtb': 'pi5' },
      rootFiles: await moduleFiles([PI4_RELEASE, PI5_RELEASE]),
    });
    const result = await prepareTftpTree({ image: image.path, outDir: join(dir, 'tftp'), serverUrl: 'http://10.42.0.1:5001', initramfs, kernelModules: ['r8152'] });

    expect(result.modules).toEqual([
      { kernel: 'kernel8.img', version: PI4_RELEASE, names: ['mii', 'usbnet', 'r8152'] },
      { kernel: 'kernel_2712.img', version: PI5_RELEASE, names: ['mii', 'usbnet', 'r8152'] },
    ]);
    const served = await readFile(join(dir, 'tftp', 'pitcrew-installer.img'));
    const base = await readFile(initramfs);
    expect(served.subarray(0, base.length).equals(base)).toBe(true);
    const overlay = readCpioArchive(gunzipSync(served.subarray(base.length)));
    const files = new Map(overlay.flatMap((e) => (e.kind === 'file' ? [[e.path, e.data.toString('latin1')] as const] : [])));
    expect(files.get(`usr/lib/modules/pitcrew/${PI4_RELEASE}/load.order`)).toBe('mii.ko\nusbnet.ko\nr8152.ko\n');
    expect(files.get(`usr/lib/modules/pitcrew/${PI5_RELEASE}/load.order`)).toBe('mii.ko\nusbnet.ko\nr8152.ko\n');
    // Each kernel gets its own build of a module, as a plain ELF file busybox insmod can load.
    expect(files.get(`usr/lib/modules/pitcrew/${PI5_RELEASE}/r8152.ko`)).toMatch(/^\x7fELF[\s\S]*r8152 for 6\.6\.51\+rpt-rpi-2712/);
    expect(files.get(`usr/lib/modules/pitcrew/${PI4_RELEASE}/usbnet.ko`)).toMatch(/usbnet for 6\.6\.51\+rpt-rpi-v8/);
    expect([...files.keys()].some((path) => path.includes('snd_usb_audio'))).toBe(false);
  });

  it('goes by the release names when a kernel carries no banner, and names what the image lacks', async () => {
    const image = await buildDiskImage(dir, {
      flavour: 'none',
      bootFiles: { 'kernel8.img': randomBytes(8192), 'kernel_2712.img': randomBytes(8192), 'start4.elf': randomBytes(1000), 'bcm2711-rpi-4-b.dtb': 'pi4', 'bcm2712-rpi-5-b.dtb': 'pi5' },
      rootFiles: await moduleFiles([PI4_RELEASE, PI5_RELEASE]),
    });
    const prepare = (kernelModules: string[]) => prepareTftpTree({ image: image.path, outDir: join(dir, 'tftp'), serverUrl: 'http://10.42.0.1:5001', initramfs, kernelModules });
    expect((await prepare(['usbnet'])).modules.map((m) => m.version)).toEqual([PI4_RELEASE, PI5_RELEASE]);
    await expect(prepare(['ax88179_178a'])).rejects.toThrow(new RegExp(`kernel module "ax88179_178a" is not in raspios-none\\.img:/usr/lib/modules/${PI4_RELEASE.replace(/[.+]/g, '\\$&')}`));
    await expect(prepare(['r8152; reboot'])).rejects.toThrow(/is not a kernel module name/);
  });

  it('refuses an image without module trees or without one for a kernel', async () => {
    const bootFiles = { 'kernel8.img': kernelWithBanner(PI4_RELEASE, true), 'kernel_2712.img': kernelWithBanner(PI5_RELEASE, false), 'start4.elf': randomBytes(1000) };
    const bare = await buildDiskImage(dir, { flavour: 'none', bootFiles, fileName: 'bare.img' });
    await expect(prepareTftpTree({ image: bare.path, outDir: join(dir, 'tftp'), serverUrl: 'http://10.42.0.1:5001', initramfs, kernelModules: ['r8152'] })).rejects.toThrow(/the image has no kernel modules/);
    const pi4Only = await buildDiskImage(dir, { flavour: 'none', bootFiles, rootFiles: await moduleFiles([PI4_RELEASE]), fileName: 'pi4-only.img' });
    await expect(prepareTftpTree({ image: pi4Only.path, outDir: join(dir, 'tftp'), serverUrl: 'http://10.42.0.1:5001', initramfs, kernelModules: ['r8152'] })).rejects.toThrow(
      /cannot tell which of the image's kernel module folders \(6\.6\.51\+rpt-rpi-v8\) belongs to kernel_2712\.img \(its banner says 6\.6\.51\+rpt-rpi-2712\)/,
    );
    // Nothing was half-prepared.
    expect(await readdir(dir)).not.toContain('tftp');
  });
});

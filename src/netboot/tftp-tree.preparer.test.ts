import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBootImage } from './test-support/boot-image.js';
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

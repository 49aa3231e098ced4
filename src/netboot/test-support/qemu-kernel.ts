// Debian's arm64 kernel for booting the installer under qemu-system-aarch64 -M virt, with the virtio drivers
// (modules in Debian's kernel) as an initramfs overlay appended after the installer's own.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { extractDeb, fetchDebianPackages, readPackageDepends, type AptContext } from '../debian-packages.fetcher.js';
import { collectKernelModules, createModulesOverlay } from '../kernel-modules.collector.js';

export const QEMU_MODULES = ['virtio_pci', 'virtio_net', 'virtio_blk'];

export interface QemuKernel {
  vmlinuz: string;
  version: string;
  /** gzip'd cpio with the virtio modules, to append to the installer initramfs. */
  modulesOverlay: Buffer;
  dir: string;
  remove(): Promise<void>;
}

/** The virtio drivers and, for the installer stick's proof, what a USB mass storage device on an xHCI controller needs. */
export const QEMU_USB_MODULES = [...QEMU_MODULES, 'xhci_pci', 'usb_storage', 'sd_mod'];

export async function prepareQemuKernel(apt: AptContext, cacheDir: string, moduleNames: readonly string[] = QEMU_MODULES): Promise<QemuKernel> {
  const [imagePackage] = (await readPackageDepends(apt, 'linux-image-arm64')).filter((name) => name.startsWith('linux-image-'));
  if (!imagePackage) throw new Error('linux-image-arm64 names no kernel package');
  const [deb] = await fetchDebianPackages(apt, [imagePackage], join(cacheDir, 'debs'));
  const dir = await mkdtemp(join(tmpdir(), 'pitcrew-kernel-'));
  await extractDeb(deb!.file, dir);
  const [version] = await readdir(join(dir, 'lib/modules'));
  const modules = await collectKernelModules(join(dir, 'lib/modules', version!), [...moduleNames]);
  return {
    vmlinuz: join(dir, 'boot', `vmlinuz-${version}`),
    version: version!,
    modulesOverlay: gzipSync(createModulesOverlay([{ version: null, modules }], 0)),
    dir,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

// A TFTP folder as `pitcrew netboot prepare` leaves it, from a small Raspberry Pi OS-like boot partition: what the
// USB stick builder starts from in tests.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { prepareTftpTree, type TftpPrepareResult } from '../tftp-tree.preparer.js';
import { createBootImage } from './boot-image.js';

export interface SampleTree extends TftpPrepareResult {
  /** The initramfs put into the folder (random bytes standing for the installer). */
  initramfs: string;
}

export async function prepareSampleTftpTree(dir: string, options: { serverUrl?: string; extraCmdline?: string[]; kernel8?: Buffer; initramfs?: Buffer; outDir?: string } = {}): Promise<SampleTree> {
  const image = join(dir, 'raspios.img');
  const initramfs = join(dir, 'pitcrew-installer.img');
  await writeFile(initramfs, options.initramfs ?? randomBytes(300_000));
  await createBootImage(image, {
    'kernel8.img': options.kernel8 ?? randomBytes(200_000),
    'kernel_2712.img': randomBytes(210_000),
    'start4.elf': randomBytes(90_000),
    'fixup4.dat': 'fixup',
    'bcm2711-rpi-4-b.dtb': 'pi4 dt',
    'bcm2712-rpi-5-b.dtb': 'pi5 dt',
    'overlays/vc4-kms-v3d.dtbo': 'overlay',
    'cmdline.txt': 'console=serial0,115200 root=PARTUUID=1234-02 rootfstype=ext4',
    'config.txt': '[all]\ndtparam=audio=on\n',
  });
  const tree = await prepareTftpTree({
    image,
    outDir: options.outDir ?? join(dir, 'tftp'),
    serverUrl: options.serverUrl ?? 'http://10.42.0.1:5001',
    initramfs,
    extraCmdline: options.extraCmdline,
  });
  return { ...tree, initramfs };
}

// The installer on a USB stick, for boards whose bootloader does not try the network: an MBR disk image with one FAT32
// partition holding what the prepared TFTP folder holds (Pi 4 firmware, Pi 4/5 device trees and overlays, kernels,
// config.txt, the installer initramfs), with a cmdline.txt naming the server and the stick itself. USB mass storage is
// in the default BOOT_ORDER of both boards, so a blank board boots the stick with no EEPROM change.
// Written without root or loop devices: the partition table by hand, the file system with mkfs.vfat --offset, the
// files with mtools.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readdir, readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { INITRAMFS_FILE } from './initramfs.builder.js';
import { renderCmdline, TftpPrepareError } from './tftp-tree.preparer.js';

const run = promisify(execFile);

/** The kernel command line word naming the stick: its MBR disk identifier, as blkid prints it (PTUUID). */
export const STICK_CMDLINE_WORD = 'pitcrew.stick';
/** What a technician finds on the stick when it is plugged into a PC. */
export const STICK_README_FILE = 'PITCREW-INSTALLER.TXT';

const SECTOR = 512;
/** The partition starts at 1 MiB, as every partitioning tool aligns it (flash erase blocks). */
const PARTITION_START_SECTOR = 2048;
const MIB = 1024 * 1024;
/** FAT32 needs at least 65,525 clusters; 64 MiB with 512-byte clusters leaves room above that. */
const MIN_PARTITION_BYTES = 64 * MIB;
/** FAT32 with LBA addressing: what the Raspberry Pi bootloaders and every PC read. */
const FAT32_LBA = 0x0c;
/**
 * A Pi 5 on a supply that does not announce 5 A (a 3 A USB-C supply, anything but the official 27 W one) refuses to
 * boot from USB ("USB boot requires high current (5V 5A) power supply") unless the boot partition's config.txt lifts
 * the USB current limit; the other way is PSU_MAX_CURRENT=5000, an EEPROM change. A stick draws far below the limit.
 */
const PI5_USB_BOOT_CONFIG = [
  '',
  '# The installer stick: a Pi 5 on a supply that does not announce 5 A boots from USB only with this.',
  '[pi5]',
  'usb_max_current_enable=1',
  '[all]',
  '',
].join('\n');
/** The words renderCmdline puts before pitcrew.server= (the console, the log level). */
const BASE_WORD = /^(console=|loglevel=)/;

/** A stick that cannot be built for a reason other than the request's words: no prepared folder, a tool missing. */
export class UsbStickError extends TftpPrepareError {
  constructor(readonly reason: 'not-prepared' | 'tool-missing', message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UsbStickError';
  }
}

export interface UsbStickOptions {
  /** A TFTP folder prepared by `pitcrew netboot prepare`. */
  tftpDir: string;
  /** The .img file to write (replaced when it exists). */
  output: string;
  /** The device listener as the boards will reach it from where the stick is used; default: the folder's. */
  serverUrl?: string;
  /** More kernel command line words (e.g. pitcrew.venue=CORO), after those of the folder's cmdline.txt. */
  extraCmdline?: string[];
  /** The MBR disk identifier, 8 hex digits; default: a random one. */
  diskId?: string;
  /** Stops the build (its tools too) and removes what it wrote: the one who asked went away. */
  signal?: AbortSignal;
}

export interface UsbStickResult {
  output: string;
  sizeBytes: number;
  diskId: string;
  serverUrl: string;
  cmdline: string;
  files: string[];
}

/** The server URL and the other pitcrew words of a cmdline.txt written by renderCmdline. */
export function parseInstallerCmdline(text: string): { serverUrl: string | null; extra: string[] } {
  const words = text.trim().split(/\s+/).filter(Boolean);
  let serverUrl: string | null = null;
  const extra: string[] = [];
  let leading = true;
  for (const word of words) {
    if (leading && BASE_WORD.test(word)) continue;
    leading = false;
    if (word.startsWith('pitcrew.server=')) serverUrl = word.slice('pitcrew.server='.length);
    else if (!word.startsWith(`${STICK_CMDLINE_WORD}=`)) extra.push(word);
  }
  return { serverUrl, extra };
}

export function isDiskId(text: string): boolean {
  return /^[0-9a-f]{8}$/.test(text) && text !== '00000000';
}

function randomDiskId(): string {
  // Zero means "no identifier" to the tools that read it.
  for (;;) {
    const id = randomBytes(4).toString('hex');
    if (isDiskId(id)) return id;
  }
}

/** An MBR with the disk identifier and one FAT32 partition; CHS fields say "use LBA", as for any disk over 8 GiB. */
export function renderMbr(diskId: string, startSector: number, sectors: number): Buffer {
  const mbr = Buffer.alloc(SECTOR);
  mbr.writeUInt32LE(Number.parseInt(diskId, 16), 440);
  const entry = 446;
  mbr[entry] = 0x80; // active: some USB bridges and PC BIOSes look for it; the Pi bootloader ignores it
  mbr.set([0xfe, 0xff, 0xff], entry + 1);
  mbr[entry + 4] = FAT32_LBA;
  mbr.set([0xfe, 0xff, 0xff], entry + 5);
  mbr.writeUInt32LE(startSector, entry + 8);
  mbr.writeUInt32LE(sectors, entry + 12);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  return mbr;
}

async function listTree(dir: string, prefix = ''): Promise<Array<{ path: string; size: number }>> {
  const out: Array<{ path: string; size: number }> = [];
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listTree(dir, rel)));
    else if (entry.isFile()) out.push({ path: rel, size: (await stat(join(dir, rel))).size });
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

async function tool(command: string, args: string[], what: string, signal?: AbortSignal): Promise<void> {
  try {
    await run(command, args, { env: { ...process.env, MTOOLS_SKIP_CHECK: '1', LC_ALL: 'C' }, maxBuffer: 16 * MIB, signal });
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    const err = error as NodeJS.ErrnoException & { stderr?: string };
    const hint = command === 'mkfs.vfat' ? 'dosfstools' : 'mtools';
    if (err.code === 'ENOENT') throw new UsbStickError('tool-missing', `${command} was not found: install ${hint} (apt-get install ${hint})`, { cause: error });
    throw new TftpPrepareError(`${what} failed: ${(err.stderr ?? err.message).trim()}`, { cause: error });
  }
}

function renderReadme(serverUrl: string, diskId: string): string {
  return [
    'Pitcrew installer stick',
    '',
    'Plug this stick into a Raspberry Pi 4 or 5 with an empty (or no) SD card and NVMe drive, connect the',
    'board to the network, and power it on. The installer asks the Pitcrew server for its image, writes it',
    'to the SD card or NVMe drive (never to this stick), and says on the screen and on the dashboard when to',
    'remove the stick.',
    '',
    `Server: ${serverUrl}`,
    `Stick identifier (MBR disk identifier): ${diskId}`,
    '',
    'To point the stick at another server, edit pitcrew.server= in cmdline.txt (one line), or build a new',
    'stick with `pitcrew netboot usb-image` or from the dashboard (System page).',
    '',
  ].join('\r\n');
}

/** Whether a stick can be built from the folder, and the server its cmdline.txt names (the default for a stick). */
export async function readStickSource(tftpDir: string): Promise<{ available: boolean; serverUrl: string | null }> {
  const cmdline = await readFile(join(tftpDir, 'cmdline.txt'), 'utf8').catch(() => null);
  const present = await Promise.all([INITRAMFS_FILE, 'kernel8.img', 'config.txt'].map((name) => stat(join(tftpDir, name)).then((info) => info.isFile(), () => false)));
  return { available: cmdline !== null && present.every(Boolean), serverUrl: cmdline === null ? null : parseInstallerCmdline(cmdline).serverUrl };
}

/**
 * Builds the stick image in a file beside `output` and renames it into place, so a failure leaves no half image.
 * The folder must hold the installer and a kernel; its cmdline.txt's words (venue, token, …) are kept.
 */
export async function buildUsbStickImage(options: UsbStickOptions): Promise<UsbStickResult> {
  const tftpDir = resolve(options.tftpDir);
  const notPrepared = `the network boot folder ${tftpDir} is not prepared: run \`pitcrew netboot build\` and \`pitcrew netboot prepare --image <raspios.img>\` first`;
  const tree = await listTree(tftpDir).catch(() => null);
  const names = new Set(tree?.map((file) => file.path));
  if (!tree || !names.has(INITRAMFS_FILE) || !names.has('kernel8.img') || !names.has('config.txt') || !names.has('cmdline.txt')) {
    throw new UsbStickError('not-prepared', notPrepared);
  }
  const diskId = options.diskId ?? randomDiskId();
  if (!isDiskId(diskId)) throw new TftpPrepareError(`the disk identifier must be 8 hex digits (not all zero), not "${diskId}"`);
  const folder = parseInstallerCmdline(await readFile(join(tftpDir, 'cmdline.txt'), 'utf8'));
  const serverUrl = (options.serverUrl ?? folder.serverUrl)?.replace(/\/+$/, '');
  if (!serverUrl) throw new UsbStickError('not-prepared', `${join(tftpDir, 'cmdline.txt')} names no server: give the server URL (e.g. http://192.168.1.10:5001)`);
  // The stick is often used on another network than the deployment switch: its server URL replaces the folder's.
  const extra = [...folder.extra, ...(options.extraCmdline ?? [])].filter((word) => !word.startsWith(`${STICK_CMDLINE_WORD}=`));
  const cmdline = renderCmdline(serverUrl, [...extra, `${STICK_CMDLINE_WORD}=${diskId}`]);
  const config = `# Pitcrew installer stick, built by \`pitcrew netboot usb-image\` from the network boot folder.\n${await readFile(join(tftpDir, 'config.txt'), 'utf8')}${PI5_USB_BOOT_CONFIG}`;

  const output = resolve(options.output);
  const contentBytes = tree.reduce((sum, file) => sum + Math.ceil(file.size / 4096) * 4096, 0);
  // Room for the FAT itself, directories and cluster slack, and for a technician adding a file or two.
  const partitionBytes = Math.max(MIN_PARTITION_BYTES, Math.ceil((contentBytes * 1.1 + 16 * MIB) / MIB) * MIB);
  const sectors = partitionBytes / SECTOR;
  options.signal?.throwIfAborted();
  const partial = join(dirname(output), `.${output.split('/').pop()}.partial-${process.pid}-${randomBytes(3).toString('hex')}`);
  const staging = await mkdtemp(join(tmpdir(), 'pitcrew-stick-'));
  try {
    await writeFile(partial, '');
    await truncate(partial, (PARTITION_START_SECTOR + sectors) * SECTOR);
    const handle = await open(partial, 'r+');
    try {
      await handle.write(renderMbr(diskId, PARTITION_START_SECTOR, sectors), 0, SECTOR, 0);
    } finally {
      await handle.close();
    }
    // The volume serial is the disk identifier too, so a PC's `blkid` shows the same number for both.
    await tool('mkfs.vfat', ['-F', '32', '-n', 'PITCREW', '-i', diskId, '-h', String(PARTITION_START_SECTOR), '--offset', String(PARTITION_START_SECTOR), partial, String(partitionBytes / 1024)], 'making the FAT file system', options.signal);
    const volume = `${partial}@@${PARTITION_START_SECTOR * SECTOR}`;
    const copied = (await readdir(tftpDir)).filter((name) => name !== 'config.txt' && name !== 'cmdline.txt').sort();
    await tool('mcopy', ['-i', volume, '-s', '-m', '-Q', ...copied.map((name) => join(tftpDir, name)), '::/'], 'copying the boot files', options.signal);
    await writeFile(join(staging, 'config.txt'), config);
    await writeFile(join(staging, 'cmdline.txt'), cmdline);
    await writeFile(join(staging, STICK_README_FILE), renderReadme(serverUrl, diskId));
    await tool('mcopy', ['-i', volume, '-m', '-Q', ...['config.txt', 'cmdline.txt', STICK_README_FILE].map((name) => join(staging, name)), '::/'], 'writing config.txt and cmdline.txt', options.signal);
    options.signal?.throwIfAborted();
    await rename(partial, output);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  const files = [...tree.map((file) => file.path).filter((path) => path !== 'config.txt' && path !== 'cmdline.txt'), 'config.txt', 'cmdline.txt', STICK_README_FILE].sort();
  return { output, sizeBytes: (PARTITION_START_SECTOR + sectors) * SECTOR, diskId, serverUrl, cmdline: cmdline.trim(), files };
}

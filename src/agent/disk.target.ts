// Where the image goes: a block device (SD card, NVMe), a regular file standing in for one (tests, the
// simulator), or a hashing sink that keeps nothing (load generation for big fleets).
import { constants, type BigIntStats } from 'node:fs';
import { open, readFile, realpath, stat, type FileHandle } from 'node:fs/promises';
import { SECTOR_BYTES } from '../disk-layout/partition-table.js';
import { DirectWriter, writeFully } from './direct-io.js';
import { InstallerError } from './installer.errors.js';

export interface DiskTarget {
  readonly kind: 'block' | 'file' | 'sink';
  /** Path tools (mtools, debugfs) and the verifier open; null for the sink. */
  readonly path: string | null;
  /** Bytes the target holds; at least the image size. */
  readonly capacity: number;
  write(data: Buffer, position: number): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenTargetOptions {
  /** Prefix for /proc and /sys lookups (tests). */
  systemRoot?: string;
}

/** Opens a block device or file for writing an image of `imageSize` bytes, refusing anything unsafe. */
export async function openDiskTarget(path: string, imageSize: number, options: OpenTargetOptions = {}): Promise<DiskTarget> {
  const systemRoot = options.systemRoot ?? '/';
  let info: BigIntStats | null = null;
  try {
    info = await stat(path, { bigint: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw targetError(path, error);
  }
  if (info?.isBlockDevice()) {
    const sysDir = `${systemRoot.replace(/\/$/, '')}/sys/dev/block/${deviceNumber(info.rdev)}`;
    const capacity = await readBlockDeviceSize(sysDir);
    if (capacity === null) throw new InstallerError('TARGET', `cannot tell the size of ${path}`);
    if (capacity < imageSize) {
      throw new InstallerError('TARGET', `the target ${path} holds ${capacity} bytes but the image needs ${imageSize}`);
    }
    // Partition tables count in logical sectors. Raspberry Pi images are laid out for 512-byte sectors; on a drive
    // with 4096-byte ones (a 4Kn NVMe) every partition would be read 8 times further out than it was written.
    const sectorBytes = await readLogicalSectorSize(sysDir);
    if (sectorBytes === null) throw new InstallerError('TARGET', `cannot tell the logical sector size of ${path}`);
    if (sectorBytes !== SECTOR_BYTES) {
      throw new InstallerError(
        'TARGET',
        `the target ${path} has ${sectorBytes}-byte logical sectors but the image's partition table counts ${SECTOR_BYTES}-byte sectors: the partitions would be misread (a 4Kn drive?); refusing to write it`,
      );
    }
    const mountedAt = await findMount(path, systemRoot);
    if (mountedAt) throw new InstallerError('TARGET', `the target ${mountedAt.source} is mounted at ${mountedAt.point}; refusing to overwrite a disk in use`);
    const handle = await openHandle(path, constants.O_RDWR);
    return handleTarget('block', path, capacity, handle, await openDirect(path));
  }
  if (info && !info.isFile()) throw new InstallerError('TARGET', `the target ${path} is neither a block device nor a regular file`);
  const handle = await openHandle(path, constants.O_RDWR | constants.O_CREAT);
  const size = Number(info?.size ?? 0n);
  // A file-backed disk grows to the image; a larger one keeps its size, like a bigger card would.
  if (size < imageSize) await handle.truncate(imageSize);
  return handleTarget('file', path, Math.max(size, imageSize), handle, await openDirect(path));
}

async function openHandle(path: string, flags: number): Promise<FileHandle> {
  try {
    return await open(path, flags, 0o644);
  } catch (error) {
    throw targetError(path, error);
  }
}

function targetError(path: string, error: unknown): InstallerError {
  const code = (error as NodeJS.ErrnoException).code;
  return new InstallerError('TARGET', `cannot open the target ${path}: ${(error as Error).message}${code === 'EACCES' ? ' (run as root)' : ''}`, { cause: error });
}

/**
 * A second handle for writes around the page cache; null where the filesystem has no O_DIRECT or the handle cannot
 * be had otherwise: the page cache writes the same bytes, only at a higher cost.
 */
async function openDirect(path: string): Promise<DirectWriter | null> {
  try {
    return new DirectWriter(await open(path, constants.O_WRONLY | constants.O_DIRECT), path);
  } catch {
    return null;
  }
}

function handleTarget(kind: 'block' | 'file', path: string, capacity: number, handle: FileHandle, direct: DirectWriter | null): DiskTarget {
  return {
    kind,
    path,
    capacity,
    async write(data, position) {
      if (await direct?.write(data, position)) return;
      await writeFully(handle, data, position, path);
    },
    // One fsync covers both handles: the same file or device, its data and the card's own cache.
    sync: () => handle.sync(),
    close: async () => {
      try {
        await direct?.close();
      } finally {
        await handle.close();
      }
    },
  };
}

/** A target that keeps nothing: the image is still hashed as it streams, but there is nothing to read back. */
export function createSinkTarget(imageSize: number): DiskTarget {
  return { kind: 'sink', path: null, capacity: imageSize, write: async () => {}, sync: async () => {}, close: async () => {} };
}

/**
 * A target whose writes go no faster than `throttle` lets them: a simulated SD card of a given write speed, for
 * benchmarks and the fleet simulator (`--card-write-rate`). Each write completes once the card "has" it.
 */
export function throttledTarget(inner: DiskTarget, throttle: (bytes: number) => Promise<void> | undefined): DiskTarget {
  return {
    kind: inner.kind,
    path: inner.path,
    capacity: inner.capacity,
    write: async (data, position) => {
      await inner.write(data, position);
      await throttle(data.length);
    },
    sync: () => inner.sync(),
    close: () => inner.close(),
  };
}

/** Linux dev_t → "major:minor", as /sys/dev/block names devices. */
export function deviceNumber(rdev: bigint): string {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

/** The sector count from sysfs (always in 512-byte units, whatever the device's sector size). */
async function readBlockDeviceSize(sysDir: string): Promise<number | null> {
  try {
    const sectors = await readFile(`${sysDir}/size`, 'utf8');
    return Number(sectors.trim()) * 512;
  } catch {
    return null;
  }
}

/** What BLKSSZGET answers, from sysfs: the disk's queue, or for a partition its disk's. */
async function readLogicalSectorSize(sysDir: string): Promise<number | null> {
  for (const file of [`${sysDir}/queue/logical_block_size`, `${sysDir}/../queue/logical_block_size`]) {
    const text = await readFile(file, 'utf8').catch(() => null);
    const value = text === null ? NaN : Number(text.trim());
    if (Number.isInteger(value) && value > 0) return value;
  }
  return null;
}

/** The device or one of its partitions in /proc/self/mounts (never image the disk the system runs from). */
async function findMount(device: string, systemRoot: string): Promise<{ source: string; point: string } | null> {
  let mounts: string;
  try {
    mounts = await readFile(`${systemRoot.replace(/\/$/, '')}/proc/self/mounts`, 'utf8');
  } catch {
    return null;
  }
  const canonical = await realpath(device).catch(() => device);
  // /dev/sda → /dev/sda1; /dev/mmcblk0 and /dev/nvme0n1 → …p1.
  const partition = new RegExp(`^${canonical.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(p?\\d+)?$`);
  for (const line of mounts.split('\n')) {
    const [source, point] = line.split(' ');
    if (!source?.startsWith('/')) continue;
    const resolved = await realpath(source).catch(() => source);
    if (partition.test(resolved)) return { source, point: (point ?? '?').replace(/\\040/g, ' ') };
  }
  return null;
}

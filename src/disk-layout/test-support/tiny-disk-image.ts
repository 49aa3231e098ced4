// The smallest real disk image, for tests that need an image the server accepts but not a bootable system: a
// hand-written MBR with one partition that holds `payload` and ends exactly at the end of the file. For images with
// real filesystems use disk-image.builder.ts.
import { SECTOR_BYTES } from '../partition-table.js';

export interface TinyDiskOptions {
  /** MBR partition type byte; 0x83 (Linux) unless told. */
  partitionType?: number;
  /** Sectors the partition claims; by default exactly those the file holds (more makes a partition past the end). */
  partitionSectors?: number;
}

/**
 * Writes into `head` (a disk's first bytes) an MBR whose one partition runs from sector 1 for `sectors` sectors;
 * bytes 0–439 (boot code) are left as they are.
 */
export function writeOnePartitionMbr(head: Buffer, sectors: number, partitionType = 0x83): void {
  head.fill(0, 440, 510);
  head.writeUInt32LE(0x5049_5443, 440); // disk signature: "PITC"
  const entry = 446; // status byte 0: not flagged bootable, which a Pi's firmware does not look at
  head[entry + 4] = partitionType;
  head.writeUInt32LE(1, entry + 8);
  head.writeUInt32LE(sectors, entry + 12);
  head.writeUInt16LE(0xaa55, 510);
}

/**
 * An MBR disk of 1 + ⌈payload / 512⌉ sectors (at least 2): the table in sector 0, partition 1 from sector 1 to the
 * end, holding the payload padded with zeros. Different payloads give different images (and SHA-256s).
 */
export function tinyDiskImage(payload: Uint8Array | string = '', options: TinyDiskOptions = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload);
  const dataSectors = Math.max(1, Math.ceil(data.length / SECTOR_BYTES));
  const image = Buffer.alloc((1 + dataSectors) * SECTOR_BYTES);
  writeOnePartitionMbr(image, options.partitionSectors ?? dataSectors, options.partitionType);
  data.copy(image, SECTOR_BYTES);
  return image;
}

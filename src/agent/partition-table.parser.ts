// Reads the partition table from the image's first MiB — the block the writer holds back — so customisation
// can find the boot and root partitions before the table itself is on the disk.
import { InstallerError } from './installer.errors.js';

export interface PartitionEntry {
  /** 1-based, as the kernel numbers them. */
  number: number;
  startByte: number;
  sizeBytes: number;
  /** MBR type byte as hex ("c", "83") or GPT type GUID (lower case). */
  type: string;
}

export interface PartitionTable {
  scheme: 'mbr' | 'gpt';
  /** MBR disk signature (8 hex digits, the PARTUUID prefix) or GPT disk GUID. */
  diskId: string;
  partitions: PartitionEntry[];
}

const SECTOR = 512;
const MBR_EXTENDED_TYPES = new Set([0x05, 0x0f, 0x85]);

export function parsePartitionTable(head: Buffer): PartitionTable {
  if (head.length < SECTOR || head.readUInt16LE(510) !== 0xaa55) {
    throw new InstallerError('CUSTOMIZE', 'the image has no partition table (no MBR signature in its first sector)');
  }
  const entries = [0, 1, 2, 3].map((i) => {
    const at = 446 + 16 * i;
    return { number: i + 1, type: head[at + 4]!, start: head.readUInt32LE(at + 8), sectors: head.readUInt32LE(at + 12) };
  });
  if (entries.some((e) => e.type === 0xee)) return parseGpt(head);
  const partitions = entries
    .filter((e) => e.type !== 0 && e.sectors > 0 && !MBR_EXTENDED_TYPES.has(e.type))
    .map((e) => ({ number: e.number, startByte: e.start * SECTOR, sizeBytes: e.sectors * SECTOR, type: e.type.toString(16) }));
  return { scheme: 'mbr', diskId: head.readUInt32LE(440).toString(16).padStart(8, '0'), partitions };
}

function parseGpt(head: Buffer): PartitionTable {
  const header = head.subarray(SECTOR, 2 * SECTOR);
  if (header.length < 92 || header.toString('latin1', 0, 8) !== 'EFI PART') {
    throw new InstallerError('CUSTOMIZE', 'the image has a protective MBR but no GPT header');
  }
  const entriesLba = Number(header.readBigUInt64LE(72));
  const count = header.readUInt32LE(80);
  const entrySize = header.readUInt32LE(84);
  const first = entriesLba * SECTOR;
  if (entrySize < 128 || first + count * entrySize > head.length) {
    throw new InstallerError('CUSTOMIZE', 'the GPT partition entries lie outside the first MiB of the image');
  }
  const partitions: PartitionEntry[] = [];
  for (let i = 0; i < count; i++) {
    const entry = head.subarray(first + i * entrySize, first + (i + 1) * entrySize);
    const type = formatGuid(entry.subarray(0, 16));
    if (type === '00000000-0000-0000-0000-000000000000') continue;
    const firstLba = Number(entry.readBigUInt64LE(32));
    const lastLba = Number(entry.readBigUInt64LE(40));
    partitions.push({ number: i + 1, startByte: firstLba * SECTOR, sizeBytes: (lastLba - firstLba + 1) * SECTOR, type });
  }
  return { scheme: 'gpt', diskId: formatGuid(header.subarray(56, 72)), partitions };
}

/** GUIDs store their first three fields little-endian. */
function formatGuid(bytes: Buffer): string {
  const hex = (b: Buffer) => b.toString('hex');
  const swapped = (b: Buffer) => hex(Buffer.from(b).reverse());
  return [swapped(bytes.subarray(0, 4)), swapped(bytes.subarray(4, 6)), swapped(bytes.subarray(6, 8)), hex(bytes.subarray(8, 10)), hex(bytes.subarray(10, 16))].join('-');
}

/** What a partition's first bytes say it holds; the type codes in the table are often wrong on hand-made images. */
export function detectFilesystem(firstBytes: Buffer): 'fat' | 'ext' | null {
  if (firstBytes.length >= 1024 + 58 && firstBytes.readUInt16LE(1024 + 56) === 0xef53) return 'ext';
  if (firstBytes.length >= 512 && firstBytes.readUInt16LE(510) === 0xaa55) {
    const fat32 = firstBytes.toString('latin1', 82, 87);
    const fat16 = firstBytes.toString('latin1', 54, 57);
    if (fat32 === 'FAT32' || fat16 === 'FAT') return 'fat';
  }
  return null;
}

// The partition table of a disk image (MBR or GPT), read without any tool: shared by the installer (which must stay
// free of dependencies — this module imports nothing but Node built-ins) and the server's block map.
import { open } from 'node:fs/promises';

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

/** Where a GPT keeps itself: both headers and both entry arrays, in bytes. */
export interface GptLocation {
  primaryHeaderByte: number;
  primaryEntries: { startByte: number; sizeBytes: number };
  /** From the primary header's alternate LBA: normally the disk's last sector. */
  backupHeaderByte: number;
  /** From the backup header when it is there, else where it belongs: the sectors right before the backup header. */
  backupEntries: { startByte: number; sizeBytes: number };
  /** False when no valid header was found at the alternate LBA (only known after readPartitionTable). */
  backupHeaderFound?: boolean;
}

export interface DiskLayout extends PartitionTable {
  /** MBR extended partitions (the containers of logical partitions, which are not listed). */
  extended: PartitionEntry[];
  gpt?: GptLocation;
}

/** The bytes do not hold a partition table this module can read. */
export class PartitionTableError extends Error {
  /** Set when the table is there but reaches past the bytes given: how many bytes from the start it needs. */
  readonly bytesNeeded: number | undefined;

  constructor(message: string, bytesNeeded?: number) {
    super(message);
    this.name = 'PartitionTableError';
    this.bytesNeeded = bytesNeeded;
  }
}

export const SECTOR_BYTES = 512;
const MBR_EXTENDED_TYPES = new Set([0x05, 0x0f, 0x85]);
const EMPTY_GUID = '00000000-0000-0000-0000-000000000000';
/** GPT entry arrays past this are not believed (the usual array is 16 KiB). */
const MAX_GPT_ENTRIES_BYTES = 1 << 20;

/** Why bytes without 55 AA at the end of their first sector hold no partition table (MBR and GPT alike). */
export const NO_MBR_SIGNATURE = 'the image has no partition table (no MBR signature in its first sector)';

/** Whether a disk's first sector ends in the 55 AA signature every MBR and every GPT's protective MBR carries. */
export const hasMbrSignature = (head: Buffer): boolean => head.length >= SECTOR_BYTES && head.readUInt16LE(510) === 0xaa55;

/** Parses the table from the disk's first bytes (normally its first MiB). Throws PartitionTableError. */
export function parsePartitionTable(head: Buffer): DiskLayout {
  if (!hasMbrSignature(head)) throw new PartitionTableError(NO_MBR_SIGNATURE);
  const entries = [0, 1, 2, 3].map((i) => {
    const at = 446 + 16 * i;
    return { number: i + 1, status: head[at]!, type: head[at + 4]!, start: head.readUInt32LE(at + 8), sectors: head.readUInt32LE(at + 12) };
  });
  if (entries.some((e) => e.type === 0xee)) return parseGpt(head);
  const used = entries.filter((e) => e.type !== 0 && e.sectors > 0);
  // A filesystem's boot sector without a partition table also ends in 55 AA: its "entries" are boot code.
  if (used.some((e) => (e.status !== 0 && e.status !== 0x80) || e.start === 0)) {
    throw new PartitionTableError('the image has no partition table (the first sector ends in 55 AA but its partition entries are not valid)');
  }
  const toEntry = (e: (typeof entries)[number]): PartitionEntry => ({
    number: e.number,
    startByte: e.start * SECTOR_BYTES,
    sizeBytes: e.sectors * SECTOR_BYTES,
    type: e.type.toString(16),
  });
  return {
    scheme: 'mbr',
    diskId: head.readUInt32LE(440).toString(16).padStart(8, '0'),
    partitions: used.filter((e) => !MBR_EXTENDED_TYPES.has(e.type)).map(toEntry),
    extended: used.filter((e) => MBR_EXTENDED_TYPES.has(e.type)).map(toEntry),
  };
}

function parseGpt(head: Buffer): DiskLayout {
  const header = head.subarray(SECTOR_BYTES, 2 * SECTOR_BYTES);
  if (header.length < 92 || header.toString('latin1', 0, 8) !== 'EFI PART') {
    throw new PartitionTableError('the image has a protective MBR but no GPT header');
  }
  const alternateLba = Number(header.readBigUInt64LE(32));
  const entriesLba = Number(header.readBigUInt64LE(72));
  const count = header.readUInt32LE(80);
  const entrySize = header.readUInt32LE(84);
  const first = entriesLba * SECTOR_BYTES;
  const arrayBytes = count * entrySize;
  if (entrySize < 128 || entrySize % 8 !== 0 || arrayBytes > MAX_GPT_ENTRIES_BYTES || entriesLba < 2) {
    throw new PartitionTableError(`the GPT header is not valid (${count} entries of ${entrySize} bytes at LBA ${entriesLba})`);
  }
  if (first + arrayBytes > head.length) {
    throw new PartitionTableError(`the GPT partition entries lie outside the first ${sizeText(head.length)} of the image`, first + arrayBytes);
  }
  const partitions: PartitionEntry[] = [];
  for (let i = 0; i < count; i++) {
    const entry = head.subarray(first + i * entrySize, first + (i + 1) * entrySize);
    const type = formatGuid(entry.subarray(0, 16));
    if (type === EMPTY_GUID) continue;
    const firstLba = Number(entry.readBigUInt64LE(32));
    const lastLba = Number(entry.readBigUInt64LE(40));
    partitions.push({ number: i + 1, startByte: firstLba * SECTOR_BYTES, sizeBytes: (lastLba - firstLba + 1) * SECTOR_BYTES, type });
  }
  const entriesSectors = Math.ceil(arrayBytes / SECTOR_BYTES);
  const backupHeaderByte = alternateLba * SECTOR_BYTES;
  return {
    scheme: 'gpt',
    diskId: formatGuid(header.subarray(56, 72)),
    partitions,
    extended: [],
    gpt: {
      primaryHeaderByte: SECTOR_BYTES,
      primaryEntries: { startByte: first, sizeBytes: entriesSectors * SECTOR_BYTES },
      backupHeaderByte,
      backupEntries: { startByte: Math.max(0, backupHeaderByte - entriesSectors * SECTOR_BYTES), sizeBytes: entriesSectors * SECTOR_BYTES },
    },
  };
}

/**
 * Reads the partition table of an image file: its first MiB, more when the GPT entries lie further, and the backup GPT
 * header (its entry array's location is taken from it when it is valid). Throws PartitionTableError.
 */
export async function readPartitionTable(path: string): Promise<DiskLayout> {
  const file = await open(path, 'r');
  try {
    const readAt = async (position: number, length: number): Promise<Buffer> => {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await file.read(buffer, 0, length, position);
      return buffer.subarray(0, bytesRead);
    };
    let head = await readAt(0, 1 << 20);
    let layout: DiskLayout;
    try {
      layout = parsePartitionTable(head);
    } catch (error) {
      if (!(error instanceof PartitionTableError) || error.bytesNeeded === undefined || error.bytesNeeded <= head.length) throw error;
      head = await readAt(0, error.bytesNeeded);
      layout = parsePartitionTable(head);
    }
    if (layout.gpt) {
      const backup = await readAt(layout.gpt.backupHeaderByte, SECTOR_BYTES);
      const found = backup.length >= 92 && backup.toString('latin1', 0, 8) === 'EFI PART';
      layout.gpt.backupHeaderFound = found;
      if (found) {
        const entriesByte = Number(backup.readBigUInt64LE(72)) * SECTOR_BYTES;
        if (entriesByte < layout.gpt.backupHeaderByte && entriesByte > 0) layout.gpt.backupEntries.startByte = entriesByte;
      }
    }
    return layout;
  } finally {
    await file.close();
  }
}

/** GUIDs store their first three fields little-endian. */
function formatGuid(bytes: Buffer): string {
  const hex = (b: Buffer) => b.toString('hex');
  const swapped = (b: Buffer) => hex(Buffer.from(b).reverse());
  return [swapped(bytes.subarray(0, 4)), swapped(bytes.subarray(4, 6)), swapped(bytes.subarray(6, 8)), hex(bytes.subarray(8, 10)), hex(bytes.subarray(10, 16))].join('-');
}

const sizeText = (bytes: number) => (bytes % (1 << 20) === 0 ? `${bytes >> 20} MiB` : `${bytes} bytes`);

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

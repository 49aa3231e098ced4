// The block map of a master image, built at registration: which byte ranges of the disk must be written.
// Everything not known to be free is mapped. The rules:
// - Ranges are sorted, disjoint, non-adjacent and aligned to MAP_BLOCK_BYTES (4096); only the last range may end at
//   imageSize when the image is not a multiple of 4096. Extents are rounded outward, never inward. Free gaps shorter
//   than MERGE_GAP_BYTES (256 KiB) between two mapped ranges are mapped too (a few free blocks cost less than a chunk).
// - Partition table: everything before the first partition (the MBR, a GPT's protective MBR, header and entries, the
//   bootloader's gap) and every gap between partitions is mapped whole; so are a GPT's backup entries and header at
//   the alternate LBA. Past the end of the last partition nothing belongs to a filesystem: only the 64 KiB blocks
//   there holding a non-zero byte are mapped. The same goes for a partition's slack past its filesystem's end.
// - FAT12/16/32 (own reader) and ext2/3/4 (dumpe2fs): their allocation structures say what is used; a zero block in
//   a used region is data like any other. FAT bad clusters are skipped.
// - Sent whole, with a note: partitions of types that do not hold a FAT or ext filesystem, MBR extended partitions
//   (their logical partitions are not read), partitions whose filesystem is not recognised or looks odd, and dirty
//   filesystems (not cleanly unmounted, a journal to replay, errors recorded). A partition reaching past the end of
//   the image is clamped to it, with a note.
// - kind 'filesystems' whenever the partition table was read, even if some partition fell back to whole; kind 'whole'
//   (one range, the whole image) when there is no readable partition table or the map failed unexpectedly.
// Only metadata is read: boot sectors, FATs, superblocks and bitmaps, and the (normally tiny) area past the partitions.
import { open, type FileHandle } from 'node:fs/promises';
import type { BlockMap } from '../../contracts/image-delivery.js';
import { formatBytes } from '../../contracts/format.js';
import { detectFilesystem, PartitionTableError, readPartitionTable, type DiskLayout } from '../../disk-layout/partition-table.js';
import { extentBytes, normalizeRanges, unionExtents, type Extent } from './byte-ranges.normalizer.js';
import { readExt } from './ext.reader.js';
import { looksLikeFat, readFat } from './fat.reader.js';
import type { FilesystemReading } from './filesystem.reading.js';

export { MERGE_GAP_BYTES } from './byte-ranges.normalizer.js';

/** Past the partitions, blocks of this size are mapped when they hold a non-zero byte. */
export const ZERO_SCAN_BLOCK_BYTES = 64 * 1024;
const SCAN_STEP_BYTES = 4 << 20;

/** MBR types that may hold a FAT or ext filesystem: FAT12/16/32 (and their hidden twins), Linux, EFI system. */
const MBR_FILESYSTEM_TYPES = new Set(['1', '4', '6', 'b', 'c', 'e', '11', '14', '16', '1b', '1c', '1e', '83', 'ef']);
/** GPT types that may hold a FAT or ext filesystem. */
const GPT_FILESYSTEM_TYPES = new Set([
  'ebd0a0a2-b9e5-4433-87c0-68b6b72699c7', // Microsoft basic data
  '0fc63daf-8483-4772-8e79-3d69d8477de4', // Linux filesystem data
  'c12a7328-f81f-11d2-ba4b-00a0c93ec93b', // EFI system
  'bc13c2ff-59e6-4262-a352-b275fd6f7172', // extended boot loader (XBOOTLDR)
  'b921b045-1df0-41c3-af44-4c6f280d3fae', // Linux root (ARM64)
  '69dad710-2ce4-4e3c-b16c-21a1d49abed3', // Linux root (ARM)
  '4f68bce3-e8cd-4db1-96e7-fbcaf984b709', // Linux root (x86-64)
  '44479540-f297-41b2-9af7-d131d5f0458a', // Linux root (x86)
  'b0e01050-ee5f-4390-949a-9101b17104e9', // Linux /usr (ARM64)
  '933ac7e1-2eb4-4f13-b844-0e14e2aef915', // Linux /home
  '3b8f8425-20e0-4f3b-907f-1a25a76f98e8', // Linux /srv
  '4d21b016-b534-45c2-a9fb-5c16e091fd2d', // Linux /var
]);

export async function buildBlockMap(imagePath: string, imageSize: number): Promise<BlockMap> {
  if (imageSize <= 0) return { kind: 'whole', ranges: [], notes: ['the image is empty'] };
  let layout: DiskLayout;
  try {
    layout = await readPartitionTable(imagePath);
  } catch (error) {
    const why = error instanceof PartitionTableError ? error.message : `the partition table could not be read (${(error as Error).message})`;
    return whole(imageSize, `${why}: the whole image is sent`);
  }
  if (layout.partitions.length === 0 && layout.extended.length === 0) {
    const bare = layout.scheme === 'mbr' && detectFilesystem(await readHead(imagePath)) !== null;
    const why = bare ? 'the image has no partition table (it starts with a filesystem of its own)' : `the ${layout.scheme === 'gpt' ? 'GPT' : 'MBR'} lists no partitions`;
    return whole(imageSize, `${why}: the whole image is sent`);
  }
  try {
    const file = await open(imagePath, 'r');
    try {
      return await mapLayout(file, layout, imagePath, imageSize);
    } finally {
      await file.close();
    }
  } catch (error) {
    return whole(imageSize, `the block map failed (${(error as Error).message}): the whole image is sent`);
  }
}

async function readHead(imagePath: string): Promise<Buffer> {
  const file = await open(imagePath, 'r');
  try {
    return await readAt(file, 0, 2048);
  } finally {
    await file.close();
  }
}

function whole(imageSize: number, note: string): BlockMap {
  return { kind: 'whole', ranges: [{ offset: 0, length: imageSize }], notes: [note] };
}

async function mapLayout(file: FileHandle, layout: DiskLayout, imagePath: string, imageSize: number): Promise<BlockMap> {
  const extents: Extent[] = [];
  const notes: string[] = [];
  const regions = [...layout.partitions.map((p) => ({ p, extended: false })), ...layout.extended.map((p) => ({ p, extended: true }))].sort(
    (a, b) => a.p.startByte - b.p.startByte || a.p.number - b.p.number,
  );

  // Before, between and after the partitions.
  let covered = 0;
  for (const { p } of regions) {
    if (p.startByte > covered) extents.push({ start: covered, end: Math.min(p.startByte, imageSize) });
    covered = Math.max(covered, p.startByte + p.sizeBytes);
  }
  extents.push({ start: 0, end: 512 });
  if (layout.gpt) notes.push(...mapGpt(layout.gpt, imageSize, extents));

  for (const { p, extended } of regions) {
    const name = `p${p.number}`;
    if (p.startByte >= imageSize) {
      notes.push(`${name}: starts past the end of the image, ignored`);
      continue;
    }
    const end = Math.min(p.startByte + p.sizeBytes, imageSize);
    const size = end - p.startByte;
    const clamped = end < p.startByte + p.sizeBytes ? ` (clamped: ${formatBytes(p.startByte + p.sizeBytes - end)} of it lies past the end of the image)` : '';
    const typeText = layout.scheme === 'mbr' ? `type 0x${p.type}` : `type ${p.type}`;
    const sendWhole = (text: string, joiner = ',') => {
      extents.push({ start: p.startByte, end });
      notes.push(`${name} ${text}${joiner} sent whole (${formatBytes(size)})${clamped}`);
    };
    if (extended) {
      sendWhole(`extended (${typeText}): logical partitions not read`);
      continue;
    }
    const knownTypes = layout.scheme === 'mbr' ? MBR_FILESYSTEM_TYPES : GPT_FILESYSTEM_TYPES;
    if (!knownTypes.has(p.type)) {
      sendWhole(`${typeText}: unknown`);
      continue;
    }
    const read = (position: number, length: number) => readAt(file, p.startByte + position, Math.max(0, Math.min(length, size - position)));
    const first = await read(0, 2048);
    let reading: FilesystemReading;
    try {
      if (first.length >= 1082 && first.readUInt16LE(1080) === 0xef53) reading = await readExt(imagePath, p.startByte, size);
      else if (looksLikeFat(first)) reading = await readFat(read, size);
      else {
        sendWhole(`${typeText}: no FAT or ext2/3/4 filesystem recognised`);
        continue;
      }
    } catch (error) {
      sendWhole(`${typeText}: reading its filesystem failed (${(error as Error).message})`, ' —');
      continue;
    }
    const title = `${reading.name ?? typeText}${reading.label ? ` (${reading.label})` : ''}`;
    if (!reading.ok) {
      sendWhole(`${title}: ${reading.reason}`, ' —');
      continue;
    }
    const used = unionExtents(reading.used.map((e) => ({ start: p.startByte + e.start, end: p.startByte + Math.min(e.end, reading.sizeBytes) })));
    extents.push(...used);
    const remarks = [...reading.remarks];
    const fsEnd = p.startByte + reading.sizeBytes;
    if (fsEnd < end) {
      const data = await nonZeroBlocks(file, fsEnd, end);
      extents.push(...data);
      // mkfs leaves a few sectors over when the partition is not a whole number of its blocks: not worth a word.
      if (data.length > 0 || end - fsEnd >= 1 << 20) remarks.push(`${formatBytes(end - fsEnd)} past the filesystem, ${formatBytes(extentBytes(data))} of it not zero`);
    }
    notes.push(`${name} ${title}: ${formatBytes(extentBytes(used))} used of ${formatBytes(size)}${remarks.map((r) => `; ${r}`).join('')}${clamped}`);
  }

  if (covered < imageSize) {
    const data = await nonZeroBlocks(file, covered, imageSize);
    extents.push(...data);
    notes.push(`after the last partition: ${formatBytes(imageSize - covered)}, ${formatBytes(extentBytes(data))} of it not zero`);
  }
  return { kind: 'filesystems', ranges: normalizeRanges(extents, imageSize), notes };
}

function mapGpt(gpt: NonNullable<DiskLayout['gpt']>, imageSize: number, extents: Extent[]): string[] {
  extents.push({ start: 0, end: gpt.primaryHeaderByte + 512 });
  extents.push({ start: gpt.primaryEntries.startByte, end: gpt.primaryEntries.startByte + gpt.primaryEntries.sizeBytes });
  if (gpt.backupHeaderByte + 512 > imageSize) return [`GPT: the backup header (at byte ${gpt.backupHeaderByte}) lies past the end of the image`];
  extents.push({ start: gpt.backupEntries.startByte, end: gpt.backupEntries.startByte + gpt.backupEntries.sizeBytes });
  extents.push({ start: gpt.backupHeaderByte, end: gpt.backupHeaderByte + 512 });
  return gpt.backupHeaderFound === false ? [`GPT: no backup header at byte ${gpt.backupHeaderByte}; its place is mapped anyway`] : [];
}

async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buffer.subarray(0, done);
}

/** The 64 KiB blocks (on the image's 64 KiB grid, clipped to [start, end)) that hold a non-zero byte. */
async function nonZeroBlocks(file: FileHandle, start: number, end: number): Promise<Extent[]> {
  const found: Extent[] = [];
  const zero = Buffer.alloc(ZERO_SCAN_BLOCK_BYTES);
  let block = Math.floor(start / ZERO_SCAN_BLOCK_BYTES) * ZERO_SCAN_BLOCK_BYTES;
  while (block < end) {
    const stepEnd = Math.min(end, block + SCAN_STEP_BYTES);
    const from = Math.max(block, start);
    const bytes = await readAt(file, from, stepEnd - from);
    for (let b = block; b < stepEnd; b += ZERO_SCAN_BLOCK_BYTES) {
      const lo = Math.max(b, start) - from;
      const hi = Math.min(b + ZERO_SCAN_BLOCK_BYTES, stepEnd) - from;
      if (lo >= bytes.length) break;
      const slice = bytes.subarray(lo, Math.min(hi, bytes.length));
      if (!slice.equals(zero.subarray(0, slice.length))) {
        const extent = { start: from + lo, end: from + hi };
        const last = found.at(-1);
        if (last && last.end === extent.start) last.end = extent.end;
        else found.push(extent);
      }
    }
    if (bytes.length < stepEnd - from) break;
    block = stepEnd;
  }
  return found;
}

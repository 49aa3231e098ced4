// FAT12/16/32: which bytes of the partition are in use, from the boot sector (BPB) and the allocation table itself.
// Used: the reserved sectors (boot sector, FSInfo, backup boot sector), every FAT copy, the FAT12/16 root directory and
// each data cluster whose entry is non-zero in any FAT copy. Bad clusters are skipped (nothing on them is data).
// An odd boot sector or a filesystem marked dirty is reported as not readable, and its partition is sent whole.
import type { Extent } from './byte-ranges.normalizer.js';
import type { FilesystemReading, ReadAt } from './filesystem.reading.js';

export type FatType = 'FAT12' | 'FAT16' | 'FAT32';

export interface FatGeometry {
  type: FatType;
  bytesPerSector: number;
  sectorsPerCluster: number;
  reservedSectors: number;
  fatCount: number;
  fatSectors: number;
  rootDirSectors: number;
  totalSectors: number;
  /** First sector of cluster 2. */
  dataStartSector: number;
  clusterCount: number;
  label: string | null;
  /** The boot sector's dirty flag (set by Linux while mounted). */
  dirtyFlag: boolean;
}

/** A boot sector that looks like FAT at all (jump instruction, 55 AA, a FAT type string or a plausible BPB). */
export function looksLikeFat(bootSector: Buffer): boolean {
  if (bootSector.length < 512 || bootSector.readUInt16LE(510) !== 0xaa55) return false;
  const oem = bootSector.toString('latin1', 3, 11);
  if (oem === 'NTFS    ' || oem === 'EXFAT   ') return false;
  return bootSector.toString('latin1', 82, 87) === 'FAT32' || bootSector.toString('latin1', 54, 57) === 'FAT' || (bootSector[0] === 0xeb || bootSector[0] === 0xe9);
}

/** Parses and checks the BPB; throws with a reason when anything is odd. */
export function parseFatBootSector(bs: Buffer, partitionBytes: number): FatGeometry {
  const odd = (what: string) => new Error(`odd boot sector: ${what}`);
  if (bs.length < 512 || bs.readUInt16LE(510) !== 0xaa55) throw odd('no 55 AA signature');
  if (bs[0] !== 0xeb && bs[0] !== 0xe9) throw odd(`no jump instruction (0x${bs[0]!.toString(16)})`);
  const bytesPerSector = bs.readUInt16LE(11);
  const sectorsPerCluster = bs[13]!;
  const reservedSectors = bs.readUInt16LE(14);
  const fatCount = bs[16]!;
  const rootEntries = bs.readUInt16LE(17);
  const media = bs[21]!;
  const totalSectors = bs.readUInt16LE(19) || bs.readUInt32LE(32);
  const fat16Sectors = bs.readUInt16LE(22);
  const fatSectors = fat16Sectors || bs.readUInt32LE(36);
  if (![512, 1024, 2048, 4096].includes(bytesPerSector)) throw odd(`${bytesPerSector} bytes per sector`);
  if (sectorsPerCluster === 0 || (sectorsPerCluster & (sectorsPerCluster - 1)) !== 0) throw odd(`${sectorsPerCluster} sectors per cluster`);
  if (reservedSectors === 0) throw odd('no reserved sectors');
  if (fatCount < 1 || fatCount > 4) throw odd(`${fatCount} FATs`);
  if (media !== 0xf0 && media < 0xf8) throw odd(`media byte 0x${media.toString(16)}`);
  if (totalSectors === 0 || fatSectors === 0) throw odd('zero size');
  const rootDirSectors = Math.ceil((rootEntries * 32) / bytesPerSector);
  const dataStartSector = reservedSectors + fatCount * fatSectors + rootDirSectors;
  if (dataStartSector >= totalSectors) throw odd('no room for data');
  const clusterCount = Math.floor((totalSectors - dataStartSector) / sectorsPerCluster);
  const type: FatType = clusterCount < 4085 ? 'FAT12' : clusterCount < 65525 ? 'FAT16' : 'FAT32';
  if (type === 'FAT32') {
    if (rootEntries !== 0 || fat16Sectors !== 0) throw odd('FAT32 with a FAT16 root directory or FAT size');
    const rootCluster = bs.readUInt32LE(44);
    if (rootCluster < 2 || rootCluster > clusterCount + 1) throw odd(`root cluster ${rootCluster}`);
  } else if (rootEntries === 0 && fat16Sectors === 0) {
    // mkfs.vfat -F 32 on a small partition: Linux mounts it, but mtools (and the specification) count clusters.
    throw odd(`FAT32 with ${clusterCount} clusters, fewer than FAT32 allows (65,525)`);
  } else if (rootEntries === 0) {
    throw odd(`${type} without a root directory`);
  }
  const fatBytesNeeded = type === 'FAT12' ? Math.ceil(((clusterCount + 2) * 3) / 2) : (clusterCount + 2) * (type === 'FAT16' ? 2 : 4);
  if (fatSectors * bytesPerSector < fatBytesNeeded) throw odd(`a FAT of ${fatSectors} sectors cannot hold ${clusterCount} clusters`);
  if (totalSectors * bytesPerSector > partitionBytes) throw odd(`the filesystem (${totalSectors} sectors) is larger than its partition`);
  const ext = type === 'FAT32' ? 64 : 36;
  const labelText = bs[ext + 2] === 0x29 ? bs.toString('latin1', ext + 7, ext + 18).trim() : '';
  return {
    type,
    bytesPerSector,
    sectorsPerCluster,
    reservedSectors,
    fatCount,
    fatSectors,
    rootDirSectors,
    totalSectors,
    dataStartSector,
    clusterCount,
    label: labelText && labelText !== 'NO NAME' ? labelText : null,
    dirtyFlag: (bs[ext + 1]! & 0x01) !== 0,
  };
}

const BAD = { FAT12: 0xff7, FAT16: 0xfff7, FAT32: 0x0ffffff7 } as const;
/** Entries read per step (a multiple of 2, so FAT12's pairs of 12-bit entries never straddle two steps). */
const ENTRIES_PER_STEP = 1 << 20;

export async function readFat(read: ReadAt, partitionBytes: number): Promise<FilesystemReading> {
  const bootSector = await read(0, 512);
  let g: FatGeometry;
  try {
    g = parseFatBootSector(bootSector, partitionBytes);
  } catch (error) {
    return { ok: false, name: 'FAT', label: null, reason: (error as Error).message };
  }
  const fail = (reason: string): FilesystemReading => ({ ok: false, name: g.type, label: g.label, reason });
  if (g.dirtyFlag) return fail('not cleanly unmounted (dirty flag in the boot sector)');

  const bps = g.bytesPerSector;
  const fatBytes = g.fatSectors * bps;
  const entry = entryReader(g.type);
  const readEntries = async (fat: number, first: number, count: number): Promise<Buffer> => {
    const [from, to] = [entry.byteOf(first), entry.byteOf(first + count - 1) + entry.width];
    const bytes = await read(g.reservedSectors * bps + fat * fatBytes + from, to - from);
    if (bytes.length < to - from) throw new Error('the FAT lies past the end of the image');
    return bytes;
  };

  // FAT[0] carries the media byte, FAT[1] the clean-shutdown and no-error bits (FAT16/32).
  const head = await readEntries(0, 0, 2);
  const fat1 = entry.get(head, 0, 1);
  if ((entry.get(head, 0, 0) & 0xff) !== bootSector[21]) return fail('odd FAT: its first entry does not carry the media byte');
  if (g.type === 'FAT16' && (fat1 & 0xc000) !== 0xc000) return fail('not cleanly unmounted (dirty bits in the FAT)');
  if (g.type === 'FAT32' && (fat1 & 0x0c000000) !== 0x0c000000) return fail('not cleanly unmounted (dirty bits in the FAT)');

  const used: Extent[] = [{ start: 0, end: g.dataStartSector * bps }];
  const clusterBytes = g.sectorsPerCluster * bps;
  const clusterStart = (cluster: number) => g.dataStartSector * bps + (cluster - 2) * clusterBytes;
  let run: Extent | null = null;
  let bad = 0;
  const lastCluster = g.clusterCount + 1;
  for (let first = 0; first <= lastCluster; first += ENTRIES_PER_STEP) {
    const count = Math.min(ENTRIES_PER_STEP, lastCluster + 1 - first);
    const copies: Buffer[] = [];
    for (let fat = 0; fat < g.fatCount; fat++) copies.push(await readEntries(fat, first, count));
    for (let i = Math.max(0, 2 - first); i < count; i++) {
      let inUse = false;
      let isBad = false;
      for (const copy of copies) {
        const value = entry.get(copy, first, first + i);
        if (value === BAD[g.type]) isBad = true;
        else if (value !== 0) inUse = true;
      }
      if (isBad && !inUse) bad++;
      if (!inUse) {
        run = null;
        continue;
      }
      const start = clusterStart(first + i);
      if (run && run.end === start) run.end += clusterBytes;
      else used.push((run = { start, end: start + clusterBytes }));
    }
  }
  return {
    ok: true,
    name: g.type,
    label: g.label,
    used,
    sizeBytes: g.totalSectors * bps,
    remarks: bad > 0 ? [`${bad} bad cluster${bad === 1 ? '' : 's'} skipped`] : [],
  };
}

/** Byte position and value of entry n in a buffer holding the entries from `first` on. */
function entryReader(type: FatType) {
  if (type === 'FAT12') {
    return {
      width: 2,
      byteOf: (n: number) => Math.floor((n * 3) / 2),
      get: (buf: Buffer, first: number, n: number) => {
        const raw = buf.readUInt16LE(Math.floor((n * 3) / 2) - Math.floor((first * 3) / 2));
        return n % 2 === 0 ? raw & 0xfff : raw >> 4;
      },
    };
  }
  const width = type === 'FAT16' ? 2 : 4;
  return {
    width,
    byteOf: (n: number) => n * width,
    get: (buf: Buffer, first: number, n: number) => (width === 2 ? buf.readUInt16LE((n - first) * 2) : buf.readUInt32LE((n - first) * 4) & 0x0fffffff),
  };
}

// Whether a file looks like a disk image a board could boot, checked before it is registered as a master image:
// a 31-byte text file once became the active KXP2 image, and every device given it would have failed (or worse,
// written it to its card). Only the partition table and the size are read; what the partitions hold is the block
// map's business (src/core/block-map), which notes it.
import { Transform, type TransformCallback } from 'node:stream';
import { hasMbrSignature, NO_MBR_SIGNATURE, PartitionTableError, readPartitionTable, SECTOR_BYTES, type DiskLayout } from './partition-table.js';

/** The file is not a disk image; the message says why, for a person. */
export class NotADiskImageError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'NotADiskImageError';
  }
}

/**
 * Refuses (NotADiskImageError) a file that is empty, has no MBR or GPT partition table, lists no partition, is not a
 * whole number of 512-byte sectors, or has a partition that reaches past its end (an image cut short, or a table
 * describing another disk). Answers the table it read.
 */
export async function checkDiskImage(path: string, sizeBytes: number): Promise<DiskLayout> {
  if (sizeBytes === 0) throw new NotADiskImageError('the file is empty');
  let layout: DiskLayout;
  try {
    layout = await readPartitionTable(path);
  } catch (error) {
    if (error instanceof PartitionTableError) throw new NotADiskImageError(error.message);
    throw error;
  }
  if (sizeBytes % SECTOR_BYTES !== 0) {
    throw new NotADiskImageError(`its size, ${sizeBytes} bytes, is not a whole number of ${SECTOR_BYTES}-byte sectors: the file is probably cut short`);
  }
  const regions = [...layout.partitions, ...layout.extended].sort((a, b) => a.number - b.number);
  if (regions.length === 0) throw new NotADiskImageError(`its ${layout.scheme === 'gpt' ? 'GPT' : 'MBR'} partition table lists no partitions`);
  for (const partition of regions) {
    const end = partition.startByte + partition.sizeBytes;
    if (partition.sizeBytes <= 0 || end > sizeBytes) {
      throw new NotADiskImageError(
        `partition ${partition.number} ends at byte ${end}, past the end of the ${sizeBytes}-byte file: the image is cut short, or its partition table describes a larger disk`,
      );
    }
  }
  return layout;
}

/**
 * Passes a disk's bytes through unchanged, but fails (NotADiskImageError) as soon as the first sector shows they are
 * not a disk image: the wrong file is refused after 512 bytes, not after gigabytes. The whole check
 * (checkDiskImage) still runs on the stored file.
 */
export class FirstSectorGate extends Transform {
  private head: Buffer[] = [];
  private seen = 0;
  private checked = false;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (!this.checked) {
      this.head.push(chunk);
      this.seen += chunk.length;
      if (this.seen >= SECTOR_BYTES) {
        this.checked = true;
        const head = Buffer.concat(this.head);
        this.head = [];
        if (!hasMbrSignature(head)) return done(new NotADiskImageError(NO_MBR_SIGNATURE));
      }
    }
    done(null, chunk);
  }
}

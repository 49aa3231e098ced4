// What a filesystem reader found in one partition: either the extents its allocation structures mark as used, or why
// the partition has to be sent whole.
import type { Extent } from './byte-ranges.normalizer.js';

export type FilesystemReading =
  | {
      ok: true;
      /** "FAT32", "ext4", … */
      name: string;
      label: string | null;
      /** Byte extents relative to the partition's start, within sizeBytes. */
      used: Extent[];
      /** The filesystem's own size; the partition may be larger. */
      sizeBytes: number;
      /** Something worth a word on the image page ("2 bad clusters skipped"). */
      remarks: string[];
    }
  | {
      ok: false;
      /** What was recognised, when anything was ("FAT16", "ext4"). */
      name: string | null;
      label: string | null;
      /** Why the partition is sent whole ("not cleanly unmounted (journal needs recovery)"). */
      reason: string;
    };

/** Reads `length` bytes at `position` relative to the partition's start; fewer at the end of the image. */
export type ReadAt = (position: number, length: number) => Promise<Buffer>;

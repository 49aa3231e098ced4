// The generalisation steps an image's cards will get, listed when the image is registered so the image page can
// show them before any device has installed it. It runs the installer's own planning (read-only debugfs sessions on
// the stored file, nothing written), so the list cannot drift from what devices do. An image whose root cannot be
// read gets no list, with the reason; registration never fails for it.
import { open } from 'node:fs/promises';
import type { GeneralizationReport } from '../contracts/generalization.js';
import { detectFilesystem, parsePartitionTable } from '../disk-layout/partition-table.js';
import { planGeneralization } from '../disk-layout/clone.generalizer.js';
import { Ext4Volume } from '../disk-layout/ext4.volume.js';

export interface GeneralizationPreview {
  steps: GeneralizationReport | null;
  /** Why there is no list (no ext4 root, a root not cleanly unmounted, debugfs missing); null when there is one. */
  problem: string | null;
}

const HEAD_BYTES = 1 << 20;

export async function previewGeneralization(imagePath: string): Promise<GeneralizationPreview> {
  try {
    const file = await open(imagePath, 'r');
    let rootStart: number | null = null;
    try {
      const head = Buffer.alloc(HEAD_BYTES);
      await file.read(head, 0, HEAD_BYTES, 0);
      for (const partition of parsePartitionTable(head).partitions) {
        const first = Buffer.alloc(2048);
        await file.read(first, 0, first.length, partition.startByte);
        if (detectFilesystem(first) === 'ext') {
          rootStart = partition.startByte;
          break;
        }
      }
    } finally {
      await file.close();
    }
    if (rootStart === null) return { steps: null, problem: 'the image has no ext4 root partition' };
    const ext = new Ext4Volume(imagePath, rootStart);
    await ext.checkClean();
    return { steps: (await planGeneralization(ext)).steps, problem: null };
  } catch (error) {
    return { steps: null, problem: error instanceof Error ? error.message : String(error) };
  }
}

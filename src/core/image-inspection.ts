// What a registered image will do on its cards, found when it is registered so the image page can show it before
// any device has installed it: the generalisation steps its cards will get, and the first-boot mechanism the
// hostname and provisioning profile will go through. It runs the installer's own planning (read-only debugfs and
// mcopy sessions on the stored file, nothing written), so neither can drift from what devices do. What cannot be
// read gets no answer, with the reason; registration never fails for it.
import { open } from 'node:fs/promises';
import type { GeneralizationReport } from '../contracts/generalization.js';
import type { FirstBootPreview } from '../contracts/first-boot.js';
import { detectFilesystem, parsePartitionTable, type PartitionEntry } from '../disk-layout/partition-table.js';
import { planGeneralization } from '../disk-layout/clone.generalizer.js';
import { Ext4Volume } from '../disk-layout/ext4.volume.js';
import { FatVolume } from '../disk-layout/fat.volume.js';
import { inspectFirstBoot } from '../disk-layout/first-boot.detector.js';

export interface GeneralizationPreview {
  steps: GeneralizationReport | null;
  /** Why there is no list (no ext4 root, a root not cleanly unmounted, debugfs missing); null when there is one. */
  problem: string | null;
}

export interface ImageInspection {
  generalization: GeneralizationPreview;
  firstBoot: FirstBootPreview;
}

const HEAD_BYTES = 1 << 20;

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** The first FAT and the first ext partition, as the installer picks them. */
async function findPartitions(imagePath: string): Promise<{ boot: PartitionEntry | null; root: PartitionEntry | null }> {
  const file = await open(imagePath, 'r');
  try {
    const head = Buffer.alloc(HEAD_BYTES);
    await file.read(head, 0, HEAD_BYTES, 0);
    let boot: PartitionEntry | null = null;
    let root: PartitionEntry | null = null;
    for (const partition of parsePartitionTable(head).partitions) {
      const first = Buffer.alloc(2048);
      await file.read(first, 0, first.length, partition.startByte);
      const kind = detectFilesystem(first);
      if (kind === 'fat') boot ??= partition;
      if (kind === 'ext') root ??= partition;
    }
    return { boot, root };
  } finally {
    await file.close();
  }
}

const unread = (problem: string): ImageInspection => ({
  generalization: { steps: null, problem },
  firstBoot: { flavour: null, boot_mount: null, warnings: [], problem },
});

export async function inspectImage(imagePath: string): Promise<ImageInspection> {
  let boot: PartitionEntry | null;
  let ext: Ext4Volume;
  try {
    const found = await findPartitions(imagePath);
    if (!found.root) return unread('the image has no ext4 root partition');
    boot = found.boot;
    ext = new Ext4Volume(imagePath, found.root.startByte);
    await ext.checkClean();
  } catch (error) {
    return unread(messageOf(error));
  }
  const generalization = await planGeneralization(ext).then(
    (plan): GeneralizationPreview => ({ steps: plan.steps, problem: null }),
    (error: unknown): GeneralizationPreview => ({ steps: null, problem: messageOf(error) }),
  );
  const firstBoot: FirstBootPreview = !boot
    ? { flavour: null, boot_mount: null, warnings: [], problem: 'the image has no FAT boot partition' }
    : await inspectFirstBoot(ext, new FatVolume(imagePath, boot.startByte)).then(
        ({ plan, mount }): FirstBootPreview => ({ flavour: plan.flavour, boot_mount: mount.point, warnings: plan.warnings, problem: null }),
        (error: unknown): FirstBootPreview => ({ flavour: null, boot_mount: null, warnings: [], problem: messageOf(error) }),
      );
  return { generalization, firstBoot };
}

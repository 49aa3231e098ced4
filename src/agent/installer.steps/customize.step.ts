// Step 6: the card made this device's: hostname, generalisation, provisioning and first-boot check-in written for
// first boot, then the held-back partition table last (read back), and the kernel told of the new table.
import { randomUUID } from 'node:crypto';
import type { DiskTarget } from '../disk.target.js';
import { readDiskBytes } from '../disk.verifier.js';
import type { ImageWriter } from '../disk.writer.js';
import { customizeFirstBoot } from '../first-boot.customizer.js';
import { checkinSetupOf } from '../first-boot.checkin.js';
import { describeError, InstallerError } from '../installer.errors.js';
import { PROGRESS_SPAN } from '../installer.progress.js';
import { parsePartitionTable } from '../partition-table.parser.js';
import { rereadPartitionTable } from '../partition-table.reread.js';
import type { InstallRun } from './install-run.js';

/** Customises the written image (unless asked not to, or a sink) and commits its partition table. */
export async function customizeCard(run: InstallRun, target: DiskTarget, writer: ImageWriter): Promise<void> {
  const { options, config, result } = run;
  const customizeStarted = performance.now();
  const customize = options.customize ?? target.path !== null;
  if (customize && target.path !== null) {
    const generalizing = config.generalize === false ? '' : 'making it a machine of its own and ';
    await run.enterPhase('customizing', `${generalizing}writing hostname ${config.hostname} for first boot`, { progress: PROGRESS_SPAN.customizing[0] });
    const table = parsePartitionTable(writer.heldBack);
    // A partition inside the held-back MiB cannot be edited before the table is written (rare: modern images start at 4 MiB).
    if (table.partitions.some((p) => p.startByte < writer.heldBack.length)) await writer.commitHeldBack();
    const path = target.path;
    result.customization = await customizeFirstBoot({
      devicePath: path,
      table,
      hostname: config.hostname,
      instanceId: `pitcrew-${config.deployment_id}-${randomUUID()}`,
      // An older server does not say: generalise, as the switch's default is.
      generalize: config.generalize ?? true,
      provisioning: config.provisioning ?? null,
      checkin: checkinSetupOf(config),
      readDisk: async (position, length) => (position < writer.heldBack.length ? writer.heldBack.subarray(position, position + length) : (await readDiskBytes(path, position, length)).data),
    });
    for (const warning of result.customization.warnings) run.warnDeployment(warning);
    await target.sync();
  } else {
    await run.enterPhase('customizing', target.path === null ? 'hashing sink: no disk to customise' : 'customisation skipped on request', { progress: PROGRESS_SPAN.customizing[0] });
  }
  await writer.commitHeldBack();
  if (target.path !== null) {
    const { data } = await readDiskBytes(target.path, 0, writer.heldBack.length);
    if (!data.equals(writer.heldBack)) throw new InstallerError('VERIFY_MISMATCH', 'the partition table read back from the disk differs from the image');
  }
  result.timings.customizeMs = Math.round(performance.now() - customizeStarted);
}

/**
 * After the target is closed: the kernel still lists the partitions it found when the card appeared (none on a
 * blank one): have it read the new table, so a shell on the console or a later step sees the new layout.
 */
export async function announcePartitionTable(run: InstallRun, written: DiskTarget, writer: ImageWriter): Promise<void> {
  if (written.kind !== 'block' || written.path === null) return;
  const path = written.path;
  const problem = await (async () => rereadPartitionTable(path, parsePartitionTable(writer.heldBack).partitions))().catch((error: unknown) => describeError(error));
  if (problem) run.emit({ type: 'warning', message: `${problem}; the card is written and verified, it boots all the same` });
}

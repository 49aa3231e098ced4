// Step 4: the target opened for writing: large enough for every byte to be written (refused before anything is),
// first and last MiB zeroed, a real card's capacity checked, and wrapped to count what the card is given and how
// long it takes (plus the write faults tests inject).
import type { CapacityCheck } from '../../contracts/card-health.js';
import { formatBytes } from '../../contracts/format.js';
import { probeCapacity } from '../capacity.probe.js';
import type { ChunkedDelivery } from '../chunked.delivery.js';
import { createSinkTarget, openDiskTarget, throttledTarget, type DiskTarget } from '../disk.target.js';
import { readDiskBytes } from '../disk.verifier.js';
import { createThrottle } from '../image.downloader.js';
import type { InstallerEvent, InstallerFaults } from '../installer.types.js';
import type { InstallRun } from './install-run.js';

/** `path`: the chosen disk, or 'sink'. */
export async function openCardTarget(run: InstallRun, path: string, chunked: ChunkedDelivery | null, faults: InstallerFaults | undefined): Promise<DiskTarget> {
  const { options, result, config } = run;
  const size = config.image_size;
  const extent = chunked ? chunked.manifest.chunks.reduce((end, c) => Math.max(end, c.offset + c.raw_length), size) : size;
  let target = path === 'sink' ? createSinkTarget(extent) : await openDiskTarget(path, extent, { systemRoot: options.systemRoot });
  if (target.kind === 'block') {
    // A disk /sys/block does not describe as a card (a loop device) is checked all the same.
    const card = result.card ?? { kind: 'other' as const, manufacturer: null, name: null, serial: null, size_bytes: target.capacity };
    result.card = { ...card, capacity_check: await checkCapacity(target, run.emit, run.warnDeployment) };
  }
  if (faults?.corruptWriteAt !== undefined) target = corruptingTarget(target, faults.corruptWriteAt, faults.corruptWriteOnce ?? false);
  if (options.cardWriteBytesPerSecond) target = throttledTarget(target, createThrottle(options.cardWriteBytesPerSecond, options.signal));
  return timedTarget(target, (result.cardWrites = { bytes: 0, ms: 0 }));
}

/**
 * The card's capacity check (capacity.probe.ts), on block devices only: a file standing in for a card holds what it
 * says. A card that fails it is written all the same (the image may fit in what it really holds) and flagged.
 */
async function checkCapacity(target: DiskTarget, emit: (event: InstallerEvent) => void, warn: (message: string) => void): Promise<CapacityCheck> {
  if (target.path === null) return 'skipped';
  const path = target.path;
  const finding = await probeCapacity({ write: (data, position) => target.write(data, position), sync: () => target.sync(), read: async (position, length) => (await readDiskBytes(path, position, length)).data }, target.capacity);
  if (finding.check === 'ok') emit({ type: 'card', message: `capacity check passed: ${finding.markers} markers up to ${formatBytes(target.capacity)} read back as written` });
  else {
    const first = finding.bad[0]!;
    warn(
      `the card holds less than the ${formatBytes(target.capacity)} it claims: the marker written at byte ${first.offset} came back ${first.cameBackAs === null ? 'lost' : `as the one written at byte ${first.cameBackAs}`} (a counterfeit card; replace it)`,
    );
  }
  return finding.check;
}

/** Wraps a target so one bit of the byte at `offset` is flipped on its way to the disk (failure injection). */
function corruptingTarget(inner: DiskTarget, offset: number, once: boolean): DiskTarget {
  let armed = true;
  return {
    ...inner,
    write: (data, position) => {
      if (armed && offset >= position && offset < position + data.length) {
        armed = !once;
        const copy = Buffer.from(data);
        copy[offset - position]! ^= 0x01;
        return inner.write(copy, position);
      }
      return inner.write(data, position);
    },
    sync: () => inner.sync(),
    close: () => inner.close(),
  };
}

/**
 * Counts what the card is given and the time it is busy with it (writes and syncs, where a card's real speed shows:
 * the kernel's cache absorbs the writes, the syncs wait for the card). Overlapping writes count their time once.
 */
function timedTarget(inner: DiskTarget, measured: { bytes: number; ms: number }): DiskTarget {
  let inFlight = 0;
  let busySince = 0;
  const timed = async (work: () => Promise<void>, bytes: number) => {
    if (inFlight++ === 0) busySince = performance.now();
    try {
      await work();
      measured.bytes += bytes;
    } finally {
      if (--inFlight === 0) measured.ms += performance.now() - busySince;
    }
  };
  return {
    ...inner,
    write: (data, position) => timed(() => inner.write(data, position), data.length),
    sync: () => timed(() => inner.sync(), 0),
    close: () => inner.close(),
  };
}

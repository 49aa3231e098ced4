// After the partition table is on the card, the kernel is told to read it again, so /dev/mmcblk0p1 and p2 (or
// nvme0n1p1 …) exist for a shell on the installer's console or any later step. The kernel keeps the partitions it
// read when the card appeared — none on a blank card, the old ones on a card being redeployed — until then.
//
// `blockdev --rereadpt` (the BLKRRPART ioctl; BusyBox's applet in the installer, util-linux's elsewhere) makes the
// kernel parse the table itself. A kernel built without an MBR/GPT parser finds nothing that way; `partx -u`
// (util-linux, where present) parses it in user space and hands the kernel each partition (BLKPG). Either way the
// result is checked in sysfs against the table the installer wrote.
import { readdir, readFile, stat } from 'node:fs/promises';
import { SECTOR_BYTES, type PartitionEntry } from '../disk-layout/partition-table.js';
import { deviceNumber } from './disk.target.js';
import { describeError } from './installer.errors.js';
import { runTool } from './tool.runner.js';

export interface KernelPartition {
  number: number;
  /** In 512-byte units, as sysfs counts. */
  start: number;
  size: number;
}

export interface RereadOptions {
  /** Prefix for /sys lookups (tests). */
  systemRoot?: string;
  /** Attempts while the device is busy (udev probing it right after the close). */
  attempts?: number;
  delayMs?: number;
}

/**
 * Makes the kernel see `expected` on the block device at `path`. Answers null when it does, else what went wrong
 * (the card is written and verified either way: the caller warns, it does not fail the installation).
 */
export async function rereadPartitionTable(path: string, expected: PartitionEntry[], options: RereadOptions = {}): Promise<string | null> {
  const systemRoot = (options.systemRoot ?? '/').replace(/\/$/, '');
  const info = await stat(path, { bigint: true });
  if (!info.isBlockDevice()) return null;
  const sysDir = `${systemRoot}/sys/dev/block/${deviceNumber(info.rdev)}`;
  const missing = async () => missingPartitions(expected, await readKernelPartitions(sysDir));
  const problems: string[] = [];
  const attempts = options.attempts ?? 5;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const answer = await runTool('blockdev', ['--rereadpt', path], { timeoutMs: 30_000 }).catch((error: unknown) => ({ code: -1, stderr: describeError(error) }));
    if (answer.code === 0) break;
    const reason = answer.stderr.trim().split('\n')[0] || `exit ${answer.code}`;
    // EBUSY: something holds the disk open for a moment (udev probing it after our close); anything else is final.
    if (!/busy/i.test(reason) || attempt === attempts) {
      problems.push(`blockdev --rereadpt: ${reason}`);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, options.delayMs ?? 400));
  }
  let absent = await missing();
  if (absent.length === 0) return null;
  const partx = await runTool('partx', ['-u', path], { timeoutMs: 30_000 }).catch((error: unknown) => ({ code: -1, stderr: describeError(error) }));
  if (partx.code !== 0) problems.push(`partx -u: ${partx.stderr.trim().split('\n')[0] || `exit ${partx.code}`}`);
  absent = await missing();
  if (absent.length === 0) return null;
  const names = absent.map((p) => `${p.number} (sector ${p.startByte / SECTOR_BYTES})`).join(', ');
  return `the kernel does not list partition${absent.length > 1 ? 's' : ''} ${names} of ${path} after re-reading its table${problems.length ? `: ${problems.join('; ')}` : ''}`;
}

/** The partitions the kernel knows on a disk: the subfolders of its sysfs folder that have a `partition` file. */
export async function readKernelPartitions(sysDir: string): Promise<KernelPartition[]> {
  const entries = await readdir(sysDir).catch(() => [] as string[]);
  const found: KernelPartition[] = [];
  for (const name of entries) {
    const read = (file: string) => readFile(`${sysDir}/${name}/${file}`, 'utf8').then((text) => Number(text.trim()), () => NaN);
    const number = await read('partition');
    if (!Number.isInteger(number)) continue;
    found.push({ number, start: await read('start'), size: await read('size') });
  }
  return found.sort((a, b) => a.number - b.number);
}

function missingPartitions(expected: PartitionEntry[], known: KernelPartition[]): PartitionEntry[] {
  return expected.filter(
    (p) => !known.some((k) => k.number === p.number && k.start === p.startByte / 512 && k.size === p.sizeBytes / 512),
  );
}

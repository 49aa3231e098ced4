// After installing from a USB stick: the board restarts once the stick is pulled out, or after a while regardless.
// With the usual boot orders (SD card or NVMe before USB) a stick left in does no harm, but one boot order edit away
// it would start this installer again, so the technician is asked to remove it and given the time to.
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface StickWait {
  /** Where /sys is read from ("/" on the board). */
  root: string;
  /** The stick's kernel name, e.g. sdb: it is gone once /sys/block/<name> is. */
  name: string;
  timeoutMs: number;
  /** How often to look; a person pulling a stick needs no finer than this. */
  pollMs?: number;
  signal?: AbortSignal;
}

export type StickWaitOutcome = 'removed' | 'still-in';

export async function waitForStickRemoval({ root, name, timeoutMs, pollMs = 500, signal }: StickWait): Promise<StickWaitOutcome> {
  const entry = join(root, 'sys/block', name);
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (!(await access(entry).then(() => true, () => false))) return 'removed';
    const left = deadline - performance.now();
    if (left <= 0 || signal?.aborted) return 'still-in';
    await sleep(Math.min(pollMs, left), undefined, { signal }).catch(() => undefined);
  }
}

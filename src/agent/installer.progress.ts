// How far an installation is, for the server and the console: a phase's bytes as a share of the overall progress
// bar, a rate over the last few seconds and the time left, refreshed ten times a second.
import { formatBytes } from '../contracts/format.js';
import type { InstallerEvent } from './installer.types.js';
import type { StatusReporter } from './status.reporter.js';

/** Share of the overall progress bar per phase: writing dominates, reading back is roughly half as long. */
export const PROGRESS_SPAN = { downloading: [0, 80], verifying: [80, 98], customizing: [98, 99] } as const;

/** A progress callback that feeds the reporter and the event stream, and stops the work if the server closed it. */
export function makeProgress(
  reporter: StatusReporter,
  emit: (event: InstallerEvent) => void,
  phase: 'downloading' | 'verifying',
  total: number,
  meter: RateMeter,
  signal?: AbortSignal,
): (done: number, verb: string) => void {
  const [from, to] = PROGRESS_SPAN[phase];
  let lastSample = -Infinity;
  let lastEmit = -Infinity;
  return (done, verb) => {
    if (reporter.closedReason) throw reporter.closedReason;
    if (signal?.aborted) return;
    const now = performance.now();
    // Called for every network chunk: the figures are refreshed ten times a second, which is plenty for a
    // report sent once a second.
    if (now - lastSample < 100 && done !== total) return;
    lastSample = now;
    meter.add(now, done);
    const percent = from + ((to - from) * done) / total;
    const rateBps = meter.rate();
    const etaS = rateBps > 0 ? Math.ceil((total - done) / rateBps) : null;
    reporter.updateProgress({
      progress: percent,
      bytes_done: done,
      bytes_total: total,
      rate_bps: rateBps,
      ...(etaS === null ? {} : { eta_s: etaS }),
      message: `${formatBytes(done)} of ${formatBytes(total)} ${verb}`,
    });
    if (now - lastEmit >= 200 || done === total) {
      lastEmit = now;
      emit({ type: 'progress', phase, bytesDone: done, bytesTotal: total, rateBps, percent, etaS });
    }
  };
}

/** Bytes per second over the last few seconds. */
export class RateMeter {
  private samples: Array<[number, number]> = [];

  add(at: number, bytes: number): void {
    this.samples.push([at, bytes]);
    while (this.samples.length > 2 && at - this.samples[0]![0] > 3000) this.samples.shift();
  }

  rate(): number {
    if (this.samples.length < 2) return 0;
    const [t0, b0] = this.samples[0]!;
    const [t1, b1] = this.samples[this.samples.length - 1]!;
    return t1 > t0 ? ((b1 - b0) * 1000) / (t1 - t0) : 0;
  }
}

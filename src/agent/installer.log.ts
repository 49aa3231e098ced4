// The installer's own log, kept in memory as it goes: the whole of it (within LOG_UPLOAD_MAX_BYTES, oldest lines
// dropped first) is sent to the server when an installation fails, its last lines with the report of a success.
// The operator then reads on the dashboard what the board's console said, without walking to the board.
import { LOG_TAIL_MAX_BYTES, LOG_UPLOAD_MAX_BYTES } from '../contracts/card-health.js';
import { formatBytes } from '../contracts/format.js';
import type { InstallerEvent } from './installer.types.js';

/** Progress is logged at each tenth of a phase: enough to see where it slowed, not a line a second. */
const PROGRESS_STEP_PERCENT = 10;

export class InstallerLog {
  private readonly lines: string[] = [];
  private bytes = 0;
  private dropped = 0;
  private lastProgress = new Map<string, number>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly maxBytes = LOG_UPLOAD_MAX_BYTES,
  ) {}

  /** Lines dropped to stay within the bound. */
  get truncated(): boolean {
    return this.dropped > 0;
  }

  add(level: 'info' | 'warn' | 'error', message: string): void {
    const line = `${new Date(this.now()).toISOString()} ${level.padEnd(5)} ${message.replace(/\n/g, ' ')}`.slice(0, this.maxBytes - 1);
    this.lines.push(line);
    this.bytes += Buffer.byteLength(line) + 1;
    while (this.bytes > this.maxBytes && this.lines.length > 1) {
      this.bytes -= Buffer.byteLength(this.lines.shift()!) + 1;
      this.dropped++;
    }
  }

  /** An installer event as the console would show it. */
  record(event: InstallerEvent): void {
    switch (event.type) {
      case 'config':
        return this.add('info', `assigned ${event.config.hostname} (deployment ${event.config.deployment_id}), image ${event.config.version}`);
      case 'phase':
        return this.add(event.phase === 'failed' ? 'error' : 'info', `[${event.phase}] ${event.message}`);
      case 'delivery':
        return this.add('info', event.detail);
      case 'retry':
        return this.add('warn', `${event.what}: ${event.reason}; retry ${event.attempt} in ${(event.delayMs / 1000).toFixed(1)} s`);
      case 'warning':
        return this.add('warn', event.message);
      case 'linger':
      case 'card':
        return this.add('info', event.message);
      case 'identify':
        return this.add('info', `identify: blinking the activity LED for ${event.seconds} s`);
      case 'progress': {
        const step = Math.floor(event.percent / PROGRESS_STEP_PERCENT);
        if ((this.lastProgress.get(event.phase) ?? -1) >= step) return;
        this.lastProgress.set(event.phase, step);
        return this.add('info', `[${event.phase}] ${event.percent.toFixed(0)} %: ${formatBytes(event.bytesDone)} of ${formatBytes(event.bytesTotal)} at ${formatBytes(event.rateBps)}/s`);
      }
    }
  }

  text(): string {
    return this.lines.length ? `${this.lines.join('\n')}\n` : '';
  }

  /** The last whole lines within `maxBytes`. */
  tail(maxBytes = LOG_TAIL_MAX_BYTES): string {
    const kept: string[] = [];
    let bytes = 0;
    for (let i = this.lines.length - 1; i >= 0; i--) {
      const size = Buffer.byteLength(this.lines[i]!) + 1;
      if (bytes + size > maxBytes) break;
      kept.unshift(this.lines[i]!);
      bytes += size;
    }
    return kept.length ? `${kept.join('\n')}\n` : '';
  }
}

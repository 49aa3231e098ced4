// Identify: blink the board's activity LED so a technician finds it among a hundred on the bench. The LED is
// /sys/class/leds/ACT on current kernels and led0 on older ones; its trigger (normally the SD card's activity) is
// set to "none" while the installer toggles its brightness, and given back afterwards. Read and written below a
// root folder, so tests use a folder with trigger and brightness files.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError } from './installer.errors.js';

export const ACTIVITY_LED_NAMES = ['ACT', 'led0'] as const;

export interface ActivityLedOptions {
  /** Prefix for /sys (default "/"). */
  root?: string;
  /** One on and one off, ms (default 500: a blink a second, unlike the card's flicker). */
  periodMs?: number;
}

/** The selected trigger of a sysfs LED: the word in brackets of "none [mmc0] timer heartbeat". */
export const selectedTrigger = (text: string): string | null => /\[([^\]]+)\]/.exec(text)?.[1] ?? (text.trim() || null);

export class ActivityLed {
  private timer: NodeJS.Timeout | null = null;
  private endsAt = 0;
  private lit = false;
  private restore: { dir: string; trigger: string | null; brightness: string | null } | null = null;
  private finished: Promise<void> = Promise.resolve();
  private finish: (() => void) | null = null;

  constructor(private readonly options: ActivityLedOptions = {}) {}

  /** Blinking now. */
  get blinking(): boolean {
    return this.timer !== null;
  }

  /** Resolves when the current blink has ended and the LED has its trigger back. */
  get done(): Promise<void> {
    return this.finished;
  }

  /**
   * Blinks for `seconds` (a blink under way is extended). Resolves once blinking has started; rejects with the
   * reason when there is no LED to blink or it cannot be written (not fatal to anyone).
   */
  async identify(seconds: number): Promise<void> {
    this.endsAt = Math.max(this.endsAt, performance.now() + seconds * 1000);
    if (this.timer) return;
    const dir = await this.findLed();
    const trigger = await readFile(join(dir, 'trigger'), 'utf8').catch(() => null);
    const brightness = await readFile(join(dir, 'brightness'), 'utf8').catch(() => null);
    if (this.timer) return;
    try {
      if (trigger !== null) await writeFile(join(dir, 'trigger'), 'none');
      await writeFile(join(dir, 'brightness'), '1');
    } catch (error) {
      throw new Error(`cannot blink the activity LED ${dir}: ${describeError(error)}`, { cause: error });
    }
    this.restore = { dir, trigger: trigger === null ? null : selectedTrigger(trigger), brightness: brightness?.trim() ?? null };
    this.lit = true;
    this.finished = new Promise((resolve) => (this.finish = resolve));
    this.timer = setInterval(() => void this.tick(), this.options.periodMs ?? 500);
    this.timer.unref();
  }

  /** Ends a blink now, giving the LED its trigger back. */
  async stop(): Promise<void> {
    if (!this.timer || !this.restore) return;
    clearInterval(this.timer);
    this.timer = null;
    const { dir, trigger, brightness } = this.restore;
    this.restore = null;
    this.endsAt = 0;
    // A trigger drives the LED again by itself; with none, the brightness it had is put back.
    if (trigger && trigger !== 'none') await writeFile(join(dir, 'trigger'), trigger).catch(() => {});
    else await writeFile(join(dir, 'brightness'), brightness ?? '0').catch(() => {});
    this.finish?.();
  }

  private async tick(): Promise<void> {
    if (!this.restore) return;
    if (performance.now() >= this.endsAt) return this.stop();
    this.lit = !this.lit;
    await writeFile(join(this.restore.dir, 'brightness'), this.lit ? '1' : '0').catch(() => {});
  }

  private async findLed(): Promise<string> {
    const leds = join(this.options.root ?? '/', 'sys/class/leds');
    for (const name of ACTIVITY_LED_NAMES) {
      const dir = join(leds, name);
      if ((await readFile(join(dir, 'brightness'), 'utf8').catch(() => null)) !== null) return dir;
    }
    throw new Error(`no activity LED to blink (${ACTIVITY_LED_NAMES.map((n) => join(leds, n)).join(' or ')})`);
  }
}

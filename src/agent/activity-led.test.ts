import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../disk-layout/test-support/disk-image.builder.js';
import { ActivityLed, selectedTrigger } from './activity-led.js';
import { waitFor } from '../server/test-support/test-server.js';

describe('the activity LED', () => {
  let root: string;
  beforeEach(async () => {
    root = await makeTempDir();
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function fakeLed(name: string, trigger: string, brightness = '0') {
    const dir = join(root, 'sys/class/leds', name);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'trigger'), trigger);
    await writeFile(join(dir, 'brightness'), brightness);
    return { read: async (file: string) => (await readFile(join(dir, file), 'utf8')).trim() };
  }

  it('blinks ACT for its seconds, then gives the card its trigger back', async () => {
    const led = await fakeLed('ACT', 'none [mmc0] timer heartbeat\n');
    const activity = new ActivityLed({ root, periodMs: 10 });
    await activity.identify(0.3);
    expect(activity.blinking).toBe(true);
    expect(await led.read('trigger')).toBe('none');
    const seen = new Set<string>();
    await waitFor(async () => (seen.add(await led.read('brightness')), seen.size === 2), 5000, 'the LED going on and off');
    await activity.done;
    expect(activity.blinking).toBe(false);
    expect(await led.read('trigger')).toBe('mmc0');
  });

  it('falls back on led0, and puts back the brightness of an LED without a trigger', async () => {
    const led = await fakeLed('led0', '[none] mmc0\n', '1');
    const activity = new ActivityLed({ root, periodMs: 10 });
    await activity.identify(0.05);
    await activity.done;
    expect(await led.read('brightness')).toBe('1');
    expect(await led.read('trigger')).toBe('none');
  });

  it('extends a blink under way instead of starting a second one, and stops at once when told', async () => {
    const led = await fakeLed('ACT', '[heartbeat]\n');
    const activity = new ActivityLed({ root, periodMs: 10 });
    await Promise.all([activity.identify(30), activity.identify(30)]);
    await activity.identify(60);
    expect(activity.blinking).toBe(true);
    await activity.stop();
    expect(activity.blinking).toBe(false);
    expect(await led.read('trigger')).toBe('heartbeat');
  });

  it('says why where there is no LED, and fails nothing', async () => {
    await expect(new ActivityLed({ root }).identify(1)).rejects.toThrow(/no activity LED to blink .*ACT or .*led0/);
  });

  it('reads the selected trigger', () => {
    expect(selectedTrigger('none rc-feedback [mmc0] timer')).toBe('mmc0');
    expect(selectedTrigger('heartbeat')).toBe('heartbeat');
    expect(selectedTrigger('')).toBeNull();
  });
});

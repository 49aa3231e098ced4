import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAgentOptions, parseByteRate } from './agent.options.js';
import { makeTempDir } from '../disk-layout/test-support/disk-image.builder.js';

describe('parseAgentOptions', () => {
  let root: string;
  beforeEach(async () => {
    root = await makeTempDir();
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('reads flags', () => {
    const options = parseAgentOptions(['--server', 'http://10.42.0.1:5001', '--target', '/tmp/disk.img', '--product-type', 'rxp2', '--venue', 'aria', '--no-reboot', '--retries', '2'], {}, root);
    expect(options).toMatchObject({
      serverUrl: 'http://10.42.0.1:5001',
      target: '/tmp/disk.img',
      productType: 'RXP2',
      venueCode: 'ARIA',
      reboot: false,
      customize: true,
      retryPolicy: { maxRetries: 2 },
    });
  });

  it('reads the image delivery v2 and simulated-card flags', () => {
    const base = ['--server', 'http://10.42.0.1:5001', '--target', '/tmp/disk.img'];
    expect(parseAgentOptions(base, {}, root)).toMatchObject({ cardWriteRate: null, chunksInFlight: 4, rawOnly: false });
    expect(parseAgentOptions([...base, '--card-write-rate', '20M', '--chunks-in-flight', '8', '--no-chunks'], {}, root)).toMatchObject({
      cardWriteRate: 20 * 1024 * 1024,
      chunksInFlight: 8,
      rawOnly: true,
    });
    expect(() => parseAgentOptions([...base, '--chunks-in-flight', '0'], {}, root)).toThrow(/--chunks-in-flight must be a whole number from 1 to 16/);
    expect(() => parseAgentOptions([...base, '--card-write-rate', 'fast'], {}, root)).toThrow(/not a bandwidth/);
  });

  it('falls back to the environment, then to pitcrew.* words on the kernel command line', async () => {
    await mkdir(join(root, 'proc'));
    await writeFile(join(root, 'proc/cmdline'), 'console=tty1 pitcrew.server=http://10.42.0.1:5001 pitcrew.product=KXP2 pitcrew.venue=CORO quiet\n');
    // With no target named, the disk is chosen later, by the board's boot order (target-disk.chooser.ts).
    expect(parseAgentOptions(['--sys-root', root], {})).toMatchObject({ serverUrl: 'http://10.42.0.1:5001', productType: 'KXP2', venueCode: 'CORO', target: 'auto', reboot: true, systemRoot: root });
    expect(parseAgentOptions(['--sys-root', root], { PITCREW_SERVER: 'http://other:5001', PITCREW_TARGET: '/dev/sda' })).toMatchObject({
      serverUrl: 'http://other:5001',
      target: '/dev/sda',
    });
  });

  it('reads the installer stick and how long to wait for it to be pulled out from its kernel command line', async () => {
    await mkdir(join(root, 'proc'));
    await writeFile(join(root, 'proc/cmdline'), 'console=tty1 pitcrew.server=http://192.168.1.10:5001 pitcrew.stick=1A2B3C4D pitcrew.stick-wait=5\n');
    expect(parseAgentOptions(['--sys-root', root], {})).toMatchObject({ installerStick: '1a2b3c4d', stickWaitSeconds: 5 });
    expect(parseAgentOptions(['--sys-root', root, '--installer-stick', 'deadbeef', '--stick-wait', '0'], {})).toMatchObject({ installerStick: 'deadbeef', stickWaitSeconds: 0 });
    expect(parseAgentOptions(['--server', 'http://x', '--target', 'd'], {}, join(root, 'none'))).toMatchObject({ installerStick: null, stickWaitSeconds: 60 });
    expect(() => parseAgentOptions(['--sys-root', root, '--installer-stick', 'sdb'], {})).toThrow(/installer stick must be named by its disk identifier, 8 hex digits, not "sdb"/);
    expect(() => parseAgentOptions(['--sys-root', root, '--stick-wait', 'soon'], {})).toThrow(/--stick-wait must be a whole number of seconds from 0 to 3600, not soon/);
    expect(() => parseAgentOptions(['--sys-root', root, '--stick-wait', '7200'], {})).toThrow(/--stick-wait/);
  });

  it('says what is wrong with bad usage', () => {
    expect(() => parseAgentOptions([], {}, root)).toThrow(/no server given/);
    expect(() => parseAgentOptions(['--server', 'ftp://x'], {}, root)).toThrow(/not an http\(s\) URL/);
    expect(() => parseAgentOptions(['--server', 'http://x', '--target', 'd', '--product-type', 'XYZ'], {}, root)).toThrow(/unknown product type XYZ/);
    expect(() => parseAgentOptions(['--server', 'http://x', '--target', 'd', '--retries', '-1'], {}, root)).toThrow(/--retries/);
    expect(() => parseAgentOptions(['--bogus'], {}, root)).toThrow(/bogus/);
    expect(parseAgentOptions(['--help'], {}, root)).toBe('help');
  });

  it('parses bandwidth caps', () => {
    expect(parseByteRate('20M')).toBe(20 * 1024 * 1024);
    expect(parseByteRate('512k')).toBe(512 * 1024);
    expect(parseByteRate('1.5MiB/s')).toBe(1.5 * 1024 * 1024);
    expect(() => parseByteRate('fast')).toThrow(/not a bandwidth/);
    expect(() => parseByteRate('10')).toThrow(/at least 1k/);
  });
});

// The installer ships as one file run by plain `node` on the Pi: build it the way scripts/build.mjs does and
// run it as a separate process against the device-API double.
import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDiskImage, makeTempDir, readRootFile, type BuiltImage } from '../disk-layout/test-support/disk-image.builder.js';
import { startDeviceApiFixture, type DeviceApiFixture } from './test-support/device-api.fixture.js';

const run = promisify(execFile);

describe('the pitcrew-agent bundle', () => {
  let dir: string;
  let bundle: string;
  let image: BuiltImage;
  let fixture: DeviceApiFixture;

  beforeAll(async () => {
    dir = await makeTempDir();
    bundle = join(dir, 'pitcrew-agent.mjs');
    await build({
      entryPoints: [join(import.meta.dirname, 'main.ts')],
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      outfile: bundle,
      logLevel: 'warning',
      banner: { js: '#!/usr/bin/env node\nimport { createRequire as __pitcrewRequire } from "node:module"; const require = __pitcrewRequire(import.meta.url);' },
    });
    image = await buildDiskImage(dir, { flavour: 'cloud-init' });
    fixture = await startDeviceApiFixture(image.path);
  });
  afterAll(async () => {
    await fixture?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('depends on nothing but Node built-ins', async () => {
    const code = await readFile(bundle, 'utf8');
    const imports = [...code.matchAll(/(?:from\s+|import\s*\(|require\()\s*["']([^"']+)["']/g)].map((m) => m[1]);
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((name) => !name!.startsWith('node:') && !['fs', 'path', 'os', 'http', 'https', 'crypto', 'util', 'url'].includes(name!))).toEqual([]);
  });

  it('installs onto a file-backed disk and exits 0 without rebooting', async () => {
    const disk = join(dir, 'disk.img');
    const { stdout } = await run(process.execPath, [bundle, '--server', fixture.url, '--target', disk, '--serial', '10000000deadbeef', '--mac', 'dc:a6:32:aa:bb:cc', '--model', 'Raspberry Pi 5', '--no-reboot', '--product-type', 'KXP2']);
    expect(stdout).toMatch(/\[completed\] installed 2025\.1 as KXP2-TEST-001; first boot via cloud-init; verified \(o_direct\)/);
    expect(await readRootFile(disk, image.root.startByte, '/etc/hostname')).toBe('KXP2-TEST-001\n');
    expect(fixture.reports.at(-1)).toMatchObject({ status: 'completed', serial: '10000000deadbeef', mac_address: 'dc:a6:32:aa:bb:cc' });
  });

  it('exits 3 with the server\'s reason when no configuration is given', async () => {
    fixture.refuseConfig(409, { success: false, error: 'No active image for RXP2', code: 'NO_ACTIVE_IMAGE' }, 1);
    const failure = await run(process.execPath, [bundle, '--server', fixture.url, '--target', join(dir, 'other.img'), '--serial', '1', '--no-reboot', '--json']).catch((e) => e);
    expect(failure.code).toBe(3);
    const lines = String(failure.stderr).trim().split('\n').map((line: string) => JSON.parse(line));
    expect(lines.at(-1)).toMatchObject({ level: 'error', code: 'CONFIG_REFUSED', msg: expect.stringMatching(/No active image for RXP2/) });
  });

  it('exits 2 on bad usage', async () => {
    const failure = await run(process.execPath, [bundle, '--server', 'nonsense', '--target', 'x']).catch((e) => e);
    expect(failure.code).toBe(2);
    expect(failure.stderr).toMatch(/not an http\(s\) URL/);
  });
});

import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../cli/program.js';
import { createBootImage } from './test-support/boot-image.js';
import { createNetbootSupervisor, netbootPaths, readSavedNetwork, resolveNetworkSettings, writeNetbootConfig } from './netboot.service.js';

const run = promisify(execFile);

describe('network boot settings in the data folder', () => {
  let dir: string;
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'pitcrew-netboot-')); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  it('names the interfaces this machine has when the given one does not exist', () => {
    expect(() => resolveNetworkSettings(dir, { layout: 'dedicated', interface: 'eth97' })).toThrow(/there is no network interface "eth97" on this machine \(it has: .*\)/);
  });

  it('asks for an address when the interface has no IPv4 address of its own', () => {
    expect(() => resolveNetworkSettings(dir, { layout: 'dedicated', interface: 'lo' })).toThrow(/interface "lo" has no IPv4 address/);
  });

  it('writes the dnsmasq configuration and remembers the settings for `prepare` and `serve`', async () => {
    const network = resolveNetworkSettings(dir, { layout: 'dedicated', interface: 'deploy0', serverAddress: '10.42.0.1', prefixLength: 24, allowMissingInterface: true });
    expect(network.tftpRoot).toBe(netbootPaths(dir).tftpRoot);
    const written = await writeNetbootConfig(dir, network);
    expect(written.configFile).toBe(netbootPaths(dir).dnsmasqConfig);
    const text = await readFile(written.configFile, 'utf8');
    expect(text).toMatch(/^interface=deploy0$/m);
    expect(text).toMatch(new RegExp(`^dhcp-leasefile=${netbootPaths(dir).leases}$`, 'm'));
    expect(await readSavedNetwork(dir)).toMatchObject({ layout: 'dedicated', interface: 'deploy0', serverAddress: '10.42.0.1' });
    expect(createNetbootSupervisor({ dataDir: dir }).status()).toEqual({ state: 'stopped', pid: null, restarts: 0, recent: [] });
  });

  it('warns when dnsmasq, once it drops root, could not enter the TFTP folder', async () => {
    const locked = join(dir, 'locked');
    await mkdir(locked, { mode: 0o700 });
    await chmod(locked, 0o700);
    const network = resolveNetworkSettings(dir, { layout: 'proxy', interface: 'deploy0', serverAddress: '192.168.1.5', prefixLength: 24, tftpRoot: join(locked, 'tftp'), allowMissingInterface: true });
    const written = await writeNetbootConfig(dir, network);
    expect(written.warnings.join('\n')).toMatch(new RegExp(`cannot enter ${locked}`));
  });

  it('refuses to supervise dnsmasq before a configuration was written', () => {
    expect(() => createNetbootSupervisor({ dataDir: dir })).toThrow(/run `pitcrew netboot config` first/);
  });
});

describe('pitcrew netboot', () => {
  let dir: string;
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'pitcrew-netboot-cli-')); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  it('config writes a proxy configuration for the given interface', async () => {
    const code = await runCli(['node', 'pitcrew', '--data-dir', dir, 'netboot', 'config', '--layout', 'proxy', '--interface', 'venue0',
      '--server-address', '192.168.1.20', '--prefix', '24', '--allow-missing-interface']);
    expect(code).toBe(0);
    expect(await readFile(netbootPaths(dir).dnsmasqConfig, 'utf8')).toMatch(/^dhcp-range=192\.168\.1\.0,proxy,255\.255\.255\.0$/m);
  });

  it('prepare fills the TFTP folder with the saved server address', async () => {
    await runCli(['node', 'pitcrew', '--data-dir', dir, 'netboot', 'config', '--interface', 'deploy0', '--server-address', '10.42.0.1', '--prefix', '24', '--allow-missing-interface']);
    await mkdir(netbootPaths(dir).installer, { recursive: true });
    await writeFile(netbootPaths(dir).initramfs, 'initramfs');
    const image = join(dir, 'raspios.img');
    await createBootImage(image, { 'kernel8.img': 'kernel', 'start4.elf': 'firmware', 'bcm2711-rpi-4-b.dtb': 'dt', 'bcm2712-rpi-5-b.dtb': 'dt' });
    const code = await runCli(['node', 'pitcrew', '--data-dir', dir, 'netboot', 'prepare', '--image', image, '--cmdline', 'pitcrew.venue=CORO']);
    expect(code).toBe(0);
    expect(await readFile(join(netbootPaths(dir).tftpRoot, 'cmdline.txt'), 'utf8')).toMatch(/pitcrew\.server=http:\/\/10\.42\.0\.1:5001 pitcrew\.venue=CORO\n$/);
  });

  it('points installers at the device port the server is configured with, and refuses a bad one', async () => {
    await runCli(['node', 'pitcrew', '--data-dir', dir, 'netboot', 'config', '--interface', 'deploy0', '--server-address', '10.42.0.1', '--prefix', '24', '--allow-missing-interface']);
    await mkdir(netbootPaths(dir).installer, { recursive: true });
    await writeFile(netbootPaths(dir).initramfs, 'initramfs');
    const image = join(dir, 'raspios.img');
    await createBootImage(image, { 'kernel8.img': 'kernel', 'start4.elf': 'firmware', 'bcm2711-rpi-4-b.dtb': 'dt', 'bcm2712-rpi-5-b.dtb': 'dt' });
    const prepare = () => runCli(['node', 'pitcrew', '--data-dir', dir, 'netboot', 'prepare', '--image', image]);
    const saved = process.env.PITCREW_DEVICE_PORT;
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      process.env.PITCREW_DEVICE_PORT = '6001';
      expect(await prepare()).toBe(0);
      expect(await readFile(join(netbootPaths(dir).tftpRoot, 'cmdline.txt'), 'utf8')).toMatch(/pitcrew\.server=http:\/\/10\.42\.0\.1:6001\b/);

      process.env.PITCREW_DEVICE_PORT = '6001x';
      expect(await prepare()).toBe(1);
      expect(stderr.mock.calls.map(([text]) => String(text)).join('')).toContain('PITCREW_DEVICE_PORT="6001x": must be a TCP port, a whole number from 0 to 65535');
    } finally {
      stderr.mockRestore();
      if (saved === undefined) delete process.env.PITCREW_DEVICE_PORT;
      else process.env.PITCREW_DEVICE_PORT = saved;
    }
  });

  it('answers bad input with one clear line and exit code 1', async () => {
    const cli = (args: string[]) => run(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '..', 'cli', 'main.ts'), '--data-dir', dir, 'netboot', ...args]).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
    );
    const badRange = await cli(['config', '--interface', 'deploy0', '--server-address', '10.42.0.1', '--prefix', '24', '--allow-missing-interface', '--range-start', '10.42.0.200', '--range-end', '10.42.0.100']);
    expect(badRange).toEqual({ code: 1, stderr: 'pitcrew: the range is reversed: 10.42.0.200 comes after 10.42.0.100\n' });
    const badName = await cli(['config', '--interface', 'eth0;reboot']);
    expect(badName.code).toBe(1);
    expect(badName.stderr).toMatch(/^pitcrew: "eth0;reboot" is not a valid network interface name/);
    const noConfig = await cli(['prepare', '--image', join(dir, 'missing.img')]);
    expect(noConfig).toEqual({ code: 1, stderr: 'pitcrew: no server URL: run `pitcrew netboot config` first or pass --server-url http://<address>:5001\n' });
  });
});

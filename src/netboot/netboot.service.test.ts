import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../cli/program.js';
import { createNetbootSupervisor, netbootPaths, readSavedNetwork, resolveNetworkSettings, writeNetbootConfig } from './netboot.service.js';

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
});

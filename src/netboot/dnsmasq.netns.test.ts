// dnsmasq, supervised by Pitcrew with the generated configuration, answers a Raspberry Pi 4/5 bootloader in a
// pair of network namespaces this test creates (root only), and serves boot files over TFTP.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { symlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { generateDnsmasqConfig, RPI_PXE_SERVICE, type NetbootLayout } from './dnsmasq.config.js';
import { DnsmasqSupervisor } from './dnsmasq.supervisor.js';
import type { DhcpReply } from './test-support/dhcp.packet.js';
import { canCreateNetns, createNetnsPair, type NetnsPair } from './test-support/netns.js';

const PROBE = fileURLToPath(new URL('./test-support/dhcp-probe.ts', import.meta.url));
const UDHCPC_SCRIPT = fileURLToPath(new URL('./installer-udhcpc.sh', import.meta.url));
const run = promisify(execFile);

// Without root (a developer's laptop) it is skipped; CI runs as root and must run it, so there it fails instead.
describe.skipIf(!canCreateNetns() && !process.env.CI)('dnsmasq in a network namespace', () => {
  let net: NetnsPair;
  let dir: string;
  let supervisor: DnsmasqSupervisor | null = null;
  let bootFile: Buffer;

  beforeEach(async () => {
    net = await createNetnsPair();
    dir = await mkdtemp(join(tmpdir(), 'pitcrew-netns-'));
    // dnsmasq serves TFTP as its own unprivileged user: the tree must be world-readable, as `netboot prepare` makes it.
    await chmod(dir, 0o755);
    await mkdir(join(dir, 'tftp'), { mode: 0o755 });
    bootFile = randomBytes(300_000);
    await writeFile(join(dir, 'tftp', 'start4.elf'), bootFile, { mode: 0o644 });
  });

  afterEach(async () => {
    await supervisor?.stop();
    supervisor = null;
    await net.remove();
    await rm(dir, { recursive: true, force: true });
  });

  async function startDnsmasq(layout: NetbootLayout, leaseTime?: string): Promise<DnsmasqSupervisor> {
    const configFile = join(dir, 'dnsmasq.conf');
    await writeFile(configFile, generateDnsmasqConfig(
      {
        layout,
        interface: net.server.iface,
        serverAddress: net.server.address,
        prefixLength: net.prefixLength,
        ...(layout === 'dedicated' ? { rangeStart: '10.77.0.100', rangeEnd: '10.77.0.199', leaseTime } : {}),
        tftpRoot: join(dir, 'tftp'),
      },
      { leaseFile: join(dir, 'dnsmasq.leases') },
    ));
    supervisor = new DnsmasqSupervisor({ configFile, launcher: ['ip', 'netns', 'exec', net.server.ns], initialDelayMs: 100 });
    supervisor.start();
    // Ready once it has said where TFTP is rooted (the last thing it logs at start-up).
    await vi.waitFor(() => expect(supervisor!.status().recent.join('\n')).toMatch(/TFTP root is/), { timeout: 10_000, interval: 50 });
    return supervisor;
  }

  async function discover(mac: string): Promise<DhcpReply[]> {
    const { stdout } = await net.exec(net.client.ns, process.execPath, ['--import', 'tsx', PROBE, mac, '8000']);
    return stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as DhcpReply);
  }

  it('offers an address and the "Raspberry Pi Boot" PXE service on a dedicated network, then serves a boot file over TFTP', async () => {
    const dnsmasq = await startDnsmasq('dedicated');
    const replies = await discover('dc:a6:32:11:22:33');
    const offer = replies.find((r) => r.messageType === 2);
    expect(offer, JSON.stringify(replies) + dnsmasq.status().recent.join('\n')).toBeDefined();
    expect(offer!.pxeMenu).toContain(RPI_PXE_SERVICE);
    expect(offer!.vendorClass).toBe('PXEClient');
    expect(offer!.siaddr).toBe(net.server.address);
    const [a, b, c, d] = offer!.yiaddr.split('.').map(Number);
    expect([a, b, c]).toEqual([10, 77, 0]);
    expect(d).toBeGreaterThanOrEqual(100);
    expect(d).toBeLessThanOrEqual(199);
    // No gateway and no DNS server off the isolated network.
    expect(offer!.options[3]).toBeUndefined();
    expect(offer!.options[6]).toBeUndefined();

    const out = join(dir, 'fetched');
    await net.exec(net.client.ns, 'curl', ['-sS', '--max-time', '20', '--tftp-blksize', '1468', '-o', out, `tftp://${net.server.address}/start4.elf`]);
    expect((await readFile(out)).equals(bootFile)).toBe(true);

    await vi.waitFor(() => {
      const log = dnsmasq.status().recent.join('\n');
      expect(log).toMatch(/DHCPOFFER\(\S+\) 10\.77\.0\.\d+ dc:a6:32:11:22:33/);
      expect(log).toMatch(/sent .*start4\.elf to 10\.77\.0\.250/);
    }, { timeout: 5000, interval: 50 });
  });

  it('answers PXE clients only with boot information on a shared network (proxy DHCP)', async () => {
    await startDnsmasq('proxy');
    const replies = await discover('d8:3a:dd:44:55:66');
    const offer = replies.find((r) => r.messageType === 2);
    expect(offer, JSON.stringify(replies)).toBeDefined();
    expect(offer!.pxeMenu).toContain(RPI_PXE_SERVICE);
    // Proxy DHCP never hands out an address: that is the venue DHCP server's job.
    expect(offer!.yiaddr).toBe('0.0.0.0');
  });

  it('restarts dnsmasq when it dies and keeps answering', async () => {
    const dnsmasq = await startDnsmasq('dedicated');
    const firstPid = dnsmasq.status().pid!;
    process.kill(firstPid, 'SIGKILL');
    await vi.waitFor(() => {
      const status = dnsmasq.status();
      expect(status.restarts).toBe(1);
      expect(status.state).toBe('running');
      expect(status.pid).not.toBe(firstPid);
    }, { timeout: 10_000, interval: 50 });
    expect(dnsmasq.status().recent.join('\n')).toMatch(/dnsmasq was killed by SIGKILL; restarting/);
    await vi.waitFor(async () => {
      const replies = await discover('dc:a6:32:77:88:99');
      expect(replies.find((r) => r.messageType === 2)?.pxeMenu).toContain(RPI_PXE_SERVICE);
    }, { timeout: 15_000, interval: 200 });
  });
  // The installer's own DHCP, as its /init runs it: BusyBox udhcpc through installer-udhcpc.sh, here against a
  // 2-minute lease (dnsmasq's shortest). The lease must outlive its first term: renewed, same address, still held.
  it.skipIf(!existsSync('/usr/bin/busybox') && !process.env.CI)('keeps the installer\'s lease renewed past its lease time', { timeout: 240_000 }, async () => {
    const dnsmasq = await startDnsmasq('dedicated', '2m');
    const bin = join(dir, 'bin');
    await mkdir(bin);
    await symlink('/usr/bin/busybox', join(bin, 'udhcpc'));
    // Executable, as the initramfs ships it (udhcpc runs it for each event).
    const script = join(bin, 'udhcpc.script');
    await writeFile(script, await readFile(UDHCPC_SCRIPT), { mode: 0o755 });
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, PITCREW_RUN_DIR: dir };
    const pidFile = join(dir, `udhcpc.${net.client.iface}.pid`);
    const leaseExpiry = async (address: string) => {
      const line = (await readFile(join(dir, 'dnsmasq.leases'), 'utf8')).split('\n').find((l) => l.split(' ')[2] === address);
      return line ? Number(line.split(' ')[0]) * 1000 : null;
    };
    try {
      // Returns once bound, with udhcpc left in the background.
      await run('ip', ['netns', 'exec', net.client.ns, script, 'start', net.client.iface], { env, timeout: 30_000 });
      const bound = Date.now();
      const [iface, address, mask] = (await readFile(join(dir, 'pitcrew-net'), 'utf8')).trim().split(' ');
      expect([iface, mask]).toEqual([net.client.iface, '24']);
      expect(address).toMatch(/^10\.77\.0\.1\d\d$/);
      const pid = Number(await readFile(pidFile, 'utf8'));
      expect(() => process.kill(pid, 0)).not.toThrow();
      const firstExpiry = await leaseExpiry(address!);
      expect(firstExpiry).not.toBeNull();
      expect(firstExpiry! - bound).toBeLessThanOrEqual(121_000);

      // Renewed at half its time: dnsmasq pushes the expiry out.
      await vi.waitFor(async () => expect(await leaseExpiry(address!)).toBeGreaterThan(firstExpiry! + 30_000), { timeout: 100_000, interval: 2000 });
      // Past the first lease's end the board still holds its address, and the server still counts it as leased.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, firstExpiry! + 5000 - Date.now())));
      expect(await leaseExpiry(address!)).toBeGreaterThan(Date.now());
      const { stdout } = await net.exec(net.client.ns, 'ip', ['-4', '-o', 'addr', 'show', 'dev', net.client.iface]);
      expect(stdout).toContain(` ${address}/24 `);
      expect(() => process.kill(pid, 0)).not.toThrow();
      expect(dnsmasq.status().recent.join('\n')).toMatch(new RegExp(`DHCPACK\\(\\S+\\) ${address!.replace(/\./g, '\\.')} `));
    } finally {
      const pid = Number(await readFile(pidFile, 'utf8').catch(() => 'NaN'));
      if (Number.isInteger(pid)) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // Already gone.
        }
      }
    }
  });
});

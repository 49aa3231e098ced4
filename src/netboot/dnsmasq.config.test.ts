import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  checkInterfaceName, generateDnsmasqConfig, NetbootConfigError, parseIPv4, serverUrlFor, validateNetbootNetwork,
  type NetbootNetworkInput,
} from './dnsmasq.config.js';

const run = promisify(execFile);
const dedicated: NetbootNetworkInput = { layout: 'dedicated', interface: 'eth1', serverAddress: '10.42.0.1', prefixLength: 24, tftpRoot: '/srv/pitcrew/tftp' };
const proxy: NetbootNetworkInput = { layout: 'proxy', interface: 'enp2s0', serverAddress: '192.168.1.20', prefixLength: 24, tftpRoot: '/srv/pitcrew/tftp' };

function problemsOf(input: NetbootNetworkInput): string[] {
  try {
    validateNetbootNetwork(input);
  } catch (error) {
    expect(error).toBeInstanceOf(NetbootConfigError);
    return (error as NetbootConfigError).problems;
  }
  throw new Error('expected the settings to be rejected');
}

const directives = (text: string) => text.split('\n').filter((line) => line && !line.startsWith('#'));

describe('dnsmasq configuration for a dedicated deployment network', () => {
  it('hands out a default range in the server subnet with no gateway and no DNS, and offers the Raspberry Pi PXE service', () => {
    const lines = directives(generateDnsmasqConfig(dedicated, { leaseFile: '/var/lib/pitcrew/netboot/dnsmasq.leases' }));
    expect(lines).toContain('interface=eth1');
    expect(lines).toContain('port=0');
    expect(lines).toContain('dhcp-range=10.42.0.100,10.42.0.250,255.255.255.0,1h');
    expect(lines).toContain('dhcp-option=option:router');
    expect(lines).toContain('dhcp-option=option:dns-server');
    expect(lines).toContain('pxe-service=0,"Raspberry Pi Boot"');
    expect(lines).toContain('enable-tftp');
    expect(lines).toContain('tftp-root=/srv/pitcrew/tftp');
    expect(lines).toContain('dhcp-leasefile=/var/lib/pitcrew/netboot/dnsmasq.leases');
  });

  it('avoids the mistakes of the original plan: no raw option 43, no forced TFTP block size, no x86 client architecture', () => {
    const text = generateDnsmasqConfig(dedicated);
    const lines = directives(text);
    expect(lines.some((line) => /dhcp-option=.*(43|vendor-encap)/.test(line))).toBe(false);
    expect(lines.some((line) => /tftp-blocksize|tftp-no-blocksize|tftp-mtu/.test(line))).toBe(false);
    expect(lines.some((line) => /client-arch|option:client-arch|pxe-service=x86/i.test(line))).toBe(false);
  });

  it('uses the explicit range and lease time it is given', () => {
    const lines = directives(generateDnsmasqConfig({ ...dedicated, prefixLength: 16, rangeStart: '10.42.1.10', rangeEnd: '10.42.3.200', leaseTime: '12h' }));
    expect(lines).toContain('dhcp-range=10.42.1.10,10.42.3.200,255.255.0.0,12h');
  });

  it('moves the default range out of the way when the server sits in it', () => {
    expect(validateNetbootNetwork({ ...dedicated, serverAddress: '10.42.0.150' }).range).toEqual({ start: '10.42.0.10', end: '10.42.0.99', leaseTime: '1h' });
    const small = validateNetbootNetwork({ ...dedicated, serverAddress: '10.42.0.1', prefixLength: 28 });
    expect(small.range).toEqual({ start: '10.42.0.8', end: '10.42.0.14', leaseTime: '1h' });
  });

  it('rejects ranges outside the subnet, reversed, covering the server, or on the network/broadcast address', () => {
    expect(problemsOf({ ...dedicated, rangeStart: '10.43.0.10', rangeEnd: '10.42.0.20' }).join('\n')).toMatch(/range start 10\.43\.0\.10 is outside 10\.42\.0\.0\/24, the subnet of eth1/);
    expect(problemsOf({ ...dedicated, rangeStart: '10.42.0.200', rangeEnd: '10.42.0.100' }).join('\n')).toMatch(/reversed: 10\.42\.0\.200 comes after 10\.42\.0\.100/);
    expect(problemsOf({ ...dedicated, rangeStart: '10.42.0.1', rangeEnd: '10.42.0.20' }).join('\n')).toMatch(/includes this server's own address 10\.42\.0\.1/);
    expect(problemsOf({ ...dedicated, rangeStart: '10.42.0.100', rangeEnd: '10.42.0.255' }).join('\n')).toMatch(/broadcast address/);
    expect(problemsOf({ ...dedicated, rangeStart: '10.42.0.300', rangeEnd: 'ten' })).toEqual([
      'range start "10.42.0.300" is not an IPv4 address',
      'range end "ten" is not an IPv4 address',
    ]);
  });

  it('rejects lease times dnsmasq would refuse', () => {
    expect(problemsOf({ ...dedicated, leaseTime: '1 hour' }).join()).toMatch(/lease time "1 hour" must be a number/);
    expect(problemsOf({ ...dedicated, leaseTime: '90s' }).join()).toMatch(/shorter than dnsmasq's minimum of 2 minutes/);
  });

  it('lists every problem at once', () => {
    const problems = problemsOf({ ...dedicated, interface: 'eth 1', serverAddress: '10.42.0', prefixLength: 33, tftpRoot: 'tftp' });
    expect(problems).toHaveLength(4);
    expect(problems.join('\n')).toMatch(/"eth 1" is not a valid network interface name/);
    expect(problems.join('\n')).toMatch(/server address "10\.42\.0" is not an IPv4 address/);
    expect(problems.join('\n')).toMatch(/prefix length 33/);
    expect(problems.join('\n')).toMatch(/TFTP folder must be an absolute path/);
  });

  it('refuses a server address that is the network or broadcast address', () => {
    expect(problemsOf({ ...dedicated, serverAddress: '10.42.0.0' }).join()).toMatch(/network address of its \/24 subnet/);
    expect(problemsOf({ ...dedicated, serverAddress: '10.42.0.255' }).join()).toMatch(/broadcast address of its \/24 subnet/);
  });
});

describe('dnsmasq configuration for a shared network (proxy DHCP)', () => {
  it('adds only boot information for the interface subnet and hands out no addresses', () => {
    const lines = directives(generateDnsmasqConfig(proxy));
    expect(lines).toContain('dhcp-range=192.168.1.0,proxy,255.255.255.0');
    expect(lines).toContain('pxe-service=0,"Raspberry Pi Boot"');
    expect(lines).toContain('interface=enp2s0');
    expect(lines.some((line) => line.startsWith('dhcp-option='))).toBe(false);
    expect(lines).not.toContain('dhcp-authoritative');
  });

  it('refuses an address range, which only the venue DHCP server may hand out', () => {
    expect(problemsOf({ ...proxy, rangeStart: '192.168.1.100', rangeEnd: '192.168.1.200' }).join()).toMatch(/only applies to the dedicated layout/);
  });
});

describe('input checks', () => {
  it('accepts real interface names and refuses names Linux or a config file cannot hold', () => {
    for (const name of ['eth0', 'enp2s0', 'eth1.100', 'br-deploy', 'wlx00e04c_1', 'enx001122334455']) expect(checkInterfaceName(name)).toBeNull();
    for (const name of ['', 'a-name-longer-than-15', 'eth0\ninterface=lo', 'eth0/1', 'eth:0', '-eth0', 'eth0 ']) expect(checkInterfaceName(name)).toMatch(/interface name/);
  });

  it('parses only dotted-quad IPv4 addresses', () => {
    expect(parseIPv4('10.42.0.1')).toBe(0x0a2a0001);
    for (const bad of ['10.42.0', '256.1.1.1', '01.2.3.4', '1.2.3.4.5', '::1', '']) expect(parseIPv4(bad)).toBeNull();
  });

  it('refuses paths that could inject dnsmasq directives', () => {
    expect(problemsOf({ ...dedicated, tftpRoot: '/srv/tftp\nport=53' }).join()).toMatch(/must not contain quotes/);
    expect(() => generateDnsmasqConfig(dedicated, { leaseFile: '/tmp/x"y' })).toThrow(/lease file must be an absolute path/);
  });

  it('builds the installer server URL from the address and device port', () => {
    expect(serverUrlFor('10.42.0.1', 5001)).toBe('http://10.42.0.1:5001');
    expect(() => serverUrlFor('10.42.0.1', 70000)).toThrow(/device port/);
  });
});

describe('generated configuration against dnsmasq itself', () => {
  let dir: string;
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'pitcrew-dnsmasq-')); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  for (const [name, input] of [['dedicated', dedicated], ['proxy', proxy]] as const) {
    it(`passes dnsmasq --test for the ${name} layout`, async () => {
      const file = join(dir, `${name}.conf`);
      await writeFile(file, generateDnsmasqConfig({ ...input, tftpRoot: dir }, { leaseFile: join(dir, 'leases'), pidFile: join(dir, 'pid') }));
      const { stderr } = await run('dnsmasq', ['--test', `--conf-file=${file}`]);
      expect(stderr).toMatch(/syntax check OK/);
    });
  }

  it('is refused by dnsmasq when a directive is broken, so the check above can fail', async () => {
    const file = join(dir, 'broken.conf');
    await writeFile(file, `${generateDnsmasqConfig({ ...dedicated, tftpRoot: dir })}dhcp-range=nonsense\n`);
    await expect(run('dnsmasq', ['--test', `--conf-file=${file}`])).rejects.toThrow(/bad dhcp-range/);
  });
});

// dnsmasq configuration for network-booting Raspberry Pi 4/5 boards, in the two layouts a venue has:
//  - dedicated: an isolated deployment network where Pitcrew's dnsmasq hands out the addresses;
//  - proxy: a shared network whose own DHCP server hands out addresses, dnsmasq only adds the boot information.
// Every value is validated before it is written, so a typo is an error here, not a silent dnsmasq failure later.
import { isAbsolute } from 'node:path';

export type NetbootLayout = 'dedicated' | 'proxy';
export const NETBOOT_LAYOUTS: readonly NetbootLayout[] = ['dedicated', 'proxy'];

/** The PXE service name the Raspberry Pi bootloader looks for; it must match exactly. */
export const RPI_PXE_SERVICE = 'Raspberry Pi Boot';

export interface NetbootNetworkInput {
  layout: NetbootLayout;
  /** The interface dnsmasq serves, e.g. eth1. */
  interface: string;
  /** This server's IPv4 address on that interface; the installer reaches Pitcrew there. */
  serverAddress: string;
  /** Prefix length of the interface's subnet (24 for 255.255.255.0). */
  prefixLength: number;
  /** Dedicated layout: first and last address handed out (defaults derived from the subnet). */
  rangeStart?: string;
  rangeEnd?: string;
  /** Dedicated layout: lease time, e.g. 1h, 30m, 12h (dnsmasq's minimum is 2m). */
  leaseTime?: string;
  /** Folder TFTP serves (the tree `pitcrew netboot prepare` writes). */
  tftpRoot: string;
}

export interface NetbootNetwork extends Required<Omit<NetbootNetworkInput, 'rangeStart' | 'rangeEnd' | 'leaseTime'>> {
  network: string;
  netmask: string;
  broadcast: string;
  /** Only for the dedicated layout. */
  range: { start: string; end: string; leaseTime: string } | null;
}

export class NetbootConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? problems[0]! : `invalid network boot settings:\n  - ${problems.join('\n  - ')}`);
    this.name = 'NetbootConfigError';
  }
}

// Linux interface names: at most 15 bytes (IFNAMSIZ - 1), no "/", ":" or whitespace. Being stricter keeps every
// name safe to write into a config file.
const INTERFACE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
const LEASE_TIME = /^(\d+)([smhd]?)$/;
const UNSAFE_IN_CONFIG = /[\n\r\0"#]/;

export function checkInterfaceName(name: string): string | null {
  if (typeof name !== 'string' || name === '') return 'the network interface name is empty (e.g. eth1)';
  if (!INTERFACE_NAME.test(name)) {
    return `"${name.slice(0, 40)}" is not a valid network interface name (letters, digits, "_", "-" or ".", at most 15 characters, e.g. eth1 or enp2s0)`;
  }
  return null;
}

export function parseIPv4(text: string): number | null {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text.trim());
  if (!match) return null;
  const octets = match.slice(1).map(Number);
  if (octets.some((o) => o > 255)) return null;
  if (match.slice(1).some((o) => o.length > 1 && o.startsWith('0'))) return null;
  return ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
}

export function formatIPv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join('.');
}

function maskOf(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

export function parseLeaseSeconds(text: string): number | null {
  const match = LEASE_TIME.exec(text);
  if (!match) return null;
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

/** A sensible default lease range inside the subnet that avoids the server's own address. */
export function defaultRange(network: number, broadcast: number, server: number): { start: number; end: number } {
  const hosts = broadcast - network - 1;
  if (hosts >= 254) {
    // .100 – .250 of the server's own /24, as routers tend to do; .10 – .99 if the server sits in that part.
    const base = (server & 0xffffff00) >>> 0;
    const start = base + 100;
    const end = base + 250;
    return server >= start && server <= end ? { start: base + 10, end: base + 99 } : { start, end };
  }
  const start = network + Math.ceil(hosts / 2) + 1;
  const end = broadcast - 1;
  return server >= start && server <= end ? { start: network + 1, end: network + Math.ceil(hosts / 2) } : { start, end };
}

/** Validates everything at once and lists every problem; answers the normalised settings. */
export function validateNetbootNetwork(input: NetbootNetworkInput): NetbootNetwork {
  const problems: string[] = [];
  if (!NETBOOT_LAYOUTS.includes(input.layout)) problems.push(`layout must be "dedicated" or "proxy", not "${String(input.layout)}"`);
  const nameProblem = checkInterfaceName(input.interface);
  if (nameProblem) problems.push(nameProblem);
  const server = parseIPv4(input.serverAddress ?? '');
  if (server === null) problems.push(`server address "${input.serverAddress}" is not an IPv4 address (e.g. 10.42.0.1)`);
  const prefix = input.prefixLength;
  if (!Number.isInteger(prefix) || prefix < 8 || prefix > 30) problems.push(`prefix length ${String(prefix)} must be a whole number from 8 to 30 (24 means 255.255.255.0)`);
  if (typeof input.tftpRoot !== 'string' || !isAbsolute(input.tftpRoot)) problems.push(`the TFTP folder must be an absolute path, not "${input.tftpRoot}"`);
  else if (UNSAFE_IN_CONFIG.test(input.tftpRoot) || input.tftpRoot.includes(',')) problems.push('the TFTP folder path must not contain quotes, commas, "#" or line breaks');
  if (problems.length) throw new NetbootConfigError(problems);

  const mask = maskOf(prefix);
  const network = (server! & mask) >>> 0;
  const broadcast = (network | ~mask) >>> 0;
  if (server === network || server === broadcast) problems.push(`${input.serverAddress} is the ${server === network ? 'network' : 'broadcast'} address of its /${prefix} subnet, not a host address`);

  let range: NetbootNetwork['range'] = null;
  if (input.layout === 'dedicated') {
    const fallback = defaultRange(network, broadcast, server!);
    const start = input.rangeStart === undefined ? fallback.start : parseIPv4(input.rangeStart);
    const end = input.rangeEnd === undefined ? fallback.end : parseIPv4(input.rangeEnd);
    if (start === null) problems.push(`range start "${input.rangeStart}" is not an IPv4 address`);
    if (end === null) problems.push(`range end "${input.rangeEnd}" is not an IPv4 address`);
    const subnet = `${formatIPv4(network)}/${prefix}`;
    if (start !== null && end !== null) {
      for (const [label, value] of [['start', start], ['end', end]] as const) {
        if (((value & mask) >>> 0) !== network) problems.push(`range ${label} ${formatIPv4(value)} is outside ${subnet}, the subnet of ${input.interface}`);
        else if (value === network || value === broadcast) problems.push(`range ${label} ${formatIPv4(value)} is the ${value === network ? 'network' : 'broadcast'} address of ${subnet}`);
      }
      if (start > end) problems.push(`the range is reversed: ${formatIPv4(start)} comes after ${formatIPv4(end)}`);
      else if (server! >= start && server! <= end) problems.push(`the range ${formatIPv4(start)}–${formatIPv4(end)} includes this server's own address ${input.serverAddress}`);
    }
    const leaseTime = input.leaseTime ?? '1h';
    const seconds = parseLeaseSeconds(leaseTime);
    if (seconds === null) problems.push(`lease time "${leaseTime}" must be a number with an optional unit s, m, h or d (e.g. 1h)`);
    else if (seconds < 120) problems.push(`lease time "${leaseTime}" is shorter than dnsmasq's minimum of 2 minutes`);
    if (start !== null && end !== null) range = { start: formatIPv4(start), end: formatIPv4(end), leaseTime };
  } else if (input.rangeStart !== undefined || input.rangeEnd !== undefined) {
    problems.push('an address range only applies to the dedicated layout: in the proxy layout the venue\'s DHCP server hands out addresses');
  }
  if (problems.length) throw new NetbootConfigError(problems);
  return {
    layout: input.layout,
    interface: input.interface,
    serverAddress: formatIPv4(server!),
    prefixLength: prefix,
    tftpRoot: input.tftpRoot,
    network: formatIPv4(network),
    netmask: formatIPv4(mask),
    broadcast: formatIPv4(broadcast),
    range,
  };
}

export interface DnsmasqFileOptions {
  /** Where dnsmasq keeps its leases (dedicated layout); default /var/lib/misc/dnsmasq.leases. */
  leaseFile?: string;
  /** Where dnsmasq writes its process id; omit to use dnsmasq's default. */
  pidFile?: string;
}

function safePath(label: string, path: string): string {
  if (!isAbsolute(path) || UNSAFE_IN_CONFIG.test(path)) throw new NetbootConfigError([`${label} must be an absolute path without quotes, "#" or line breaks`]);
  return path;
}

/** The dnsmasq configuration text for validated settings. */
export function generateDnsmasqConfig(input: NetbootNetworkInput, options: DnsmasqFileOptions = {}): string {
  const net = validateNetbootNetwork(input);
  const lines: string[] = [
    `# Pitcrew network boot: ${net.layout === 'dedicated' ? 'dedicated deployment network (Pitcrew hands out addresses)' : 'shared network, proxy DHCP (the venue\'s DHCP server hands out addresses)'}.`,
    '# Generated by `pitcrew netboot config`; regenerate it rather than editing by hand.',
    '',
    '# No DNS service: installers reach Pitcrew by address.',
    'port=0',
    `interface=${net.interface}`,
    '# Follows the interface if it goes down and up again (a cable pulled, a switch restarted).',
    'bind-dynamic',
    'log-dhcp',
  ];
  if (options.pidFile) lines.push(`pid-file=${safePath('the pid file', options.pidFile)}`);
  lines.push('');
  if (net.layout === 'dedicated') {
    lines.push(
      `# Addresses for the boards: ${net.range!.start} to ${net.range!.end} on ${net.network}/${net.prefixLength}, this server is ${net.serverAddress}.`,
      `dhcp-range=${net.range!.start},${net.range!.end},${net.netmask},${net.range!.leaseTime}`,
      '# No default gateway and no DNS server: nothing on this network points off it.',
      'dhcp-option=option:router',
      'dhcp-option=option:dns-server',
      '# This is the only DHCP server on the deployment network: answer re-booting boards at once.',
      'dhcp-authoritative',
    );
    if (options.leaseFile) lines.push(`dhcp-leasefile=${safePath('the lease file', options.leaseFile)}`);
  } else {
    lines.push(
      `# Boot information only, for PXE clients on ${net.network}/${net.prefixLength}; addresses come from the existing DHCP server.`,
      `dhcp-range=${net.network},proxy,${net.netmask}`,
    );
  }
  lines.push(
    '',
    '# Raspberry Pi 4 and 5 bootloaders send vendor class "PXEClient:Arch:00000:UNDI:002001" (client architecture 0)',
    '# and boot only if the PXE menu in option 43 offers this exact service name; pxe-service builds that option.',
    `pxe-service=0,"${RPI_PXE_SERVICE}"`,
    '',
    '# Boot files (firmware, kernels, device trees, the installer initramfs). The block size is left to each',
    '# client to negotiate: forcing small blocks makes the transfer crawl.',
    'enable-tftp',
    `tftp-root=${net.tftpRoot}`,
    '',
  );
  return lines.join('\n');
}

/** The kernel command line parameter that tells the installer where the device listener is. */
export function serverUrlFor(serverAddress: string, devicePort: number): string {
  if (parseIPv4(serverAddress) === null) throw new NetbootConfigError([`server address "${serverAddress}" is not an IPv4 address`]);
  if (!Number.isInteger(devicePort) || devicePort < 1 || devicePort > 65535) throw new NetbootConfigError([`device port ${devicePort} must be from 1 to 65535`]);
  return `http://${serverAddress}:${devicePort}`;
}

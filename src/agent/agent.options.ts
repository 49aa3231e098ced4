// The installer's settings, from flags, then PITCREW_* environment variables, then `pitcrew.*=` words on the
// kernel command line (how a network-booted installer is usually told where its server is).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { PRODUCT_TYPES, type ProductType } from '../contracts/domain.js';
import { parseByteSize, parseWholeNumber } from '../contracts/numbers.js';
import { InstallerError } from './installer.errors.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.policy.js';
import type { PeerOptions } from './installer.types.js';
import { DEFAULT_CHUNKS_IN_FLIGHT } from './chunked-image.fetcher.js';

export interface AgentOptions {
  serverUrl: string;
  target: string;
  productType: ProductType | null;
  venueCode: string | null;
  serial: string | null;
  mac: string | null;
  model: string | null;
  iface: string | null;
  systemRoot: string;
  reboot: boolean;
  customize: boolean;
  retryPolicy: RetryPolicy;
  maxBytesPerSecond: number | null;
  /** Simulated card: cap on bytes written to the target per second (benchmarks, simulation). */
  cardWriteRate: number | null;
  chunksInFlight: number;
  /** Download the raw image even where the server offers chunks (image delivery v1). */
  rawOnly: boolean;
  /** One-to-many delivery settings. */
  peers: PeerOptions;
  json: boolean;
  deviceToken: string | null;
  /** Set the system clock from the server's (the netboot /init passes it: a Pi has no battery-backed clock). */
  setClock: boolean;
  /** The MBR disk identifier of the installer stick this installer runs from (pitcrew.stick=), never a target. */
  installerStick: string | null;
  /** After installing from a stick, how long to wait for it to be pulled out before rebooting anyway. */
  stickWaitSeconds: number;
}

/** Long enough for a technician at the next board to come over; the usual boot orders start the new system anyway. */
export const DEFAULT_STICK_WAIT_SECONDS = 60;

export const AGENT_USAGE = `pitcrew-agent — images this Raspberry Pi from a Pitcrew server

Usage: pitcrew-agent [options]

  --server URL          Pitcrew device listener, e.g. http://10.42.0.1:5001   (PITCREW_SERVER, pitcrew.server=)
  --target PATH         disk to write: /dev/nvme0n1, /dev/mmcblk0, /dev/sda or a file (PITCREW_TARGET, pitcrew.target=)
                        default: the first disk the board's BOOT_ORDER tries (see src/agent/README.md)
  --product-type TYPE   KXP2 or RXP2                                            (PITCREW_PRODUCT, pitcrew.product=)
  --venue CODE          venue code when no batch is active                      (PITCREW_VENUE, pitcrew.venue=)
  --serial SERIAL       override the serial from the device tree / cpuinfo
  --mac MAC             override the MAC address
  --model TEXT          override the model from the device tree
  --device-token TOKEN  shared secret, if the server requires one               (PITCREW_DEVICE_TOKEN, pitcrew.token=)
  --iface NAME          network interface whose MAC identifies the board (default: eth0, else the first wired)
  --sys-root DIR        read /proc, /sys and /dev below DIR (testing)
  --retries N           retries for transient network errors (default ${DEFAULT_RETRY_POLICY.maxRetries})
  --bandwidth BYTES/S   cap the download rate (k, M, G suffixes allowed)
  --card-write-rate BYTES/S
                        cap the rate of writes to the target, as a card of that speed would
                        (for benchmarks and simulation; k, M, G suffixes allowed)
  --chunks-in-flight N  image chunks fetched and decompressed at once (default ${DEFAULT_CHUNKS_IN_FLIGHT}, 1-16)
  --no-chunks           download the whole raw image even where the server offers chunks
  --no-peers            fetch every chunk from the server; serve none to other devices
  --peer-port N         port of this device's chunk server for other devices (default: any free one)
  --peer-cache BYTES    compressed chunks kept in memory to serve others (default: a quarter
                        of the memory, at most 512M; k, M, G suffixes allowed)
  --no-linger           reboot at once when installed instead of serving others first
  --no-customize        do not write the hostname for first boot
  --no-reboot           do not reboot after a successful install
  --set-clock           set the system clock from the server's Date header (root; the netboot
                        installer passes it: a Pi has no battery-backed clock). Without it the
                        server's time is still used for log and report timestamps
  --installer-stick ID  MBR disk identifier (8 hex digits) of the installer stick this runs from: never
                        written, and to be removed before the reboot    (PITCREW_STICK, pitcrew.stick=)
  --stick-wait SECONDS  after installing, wait up to this long for the stick to be removed before
                        rebooting (default ${DEFAULT_STICK_WAIT_SECONDS})                       (pitcrew.stick-wait=)
  --json                log one JSON object per line
  -h, --help            show this help

Exit codes: 0 installed, 1 installation failed (reported to the server), 2 bad usage, 3 no configuration.`;

export function parseAgentOptions(argv: string[], env: NodeJS.ProcessEnv = process.env, systemRoot?: string): AgentOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        server: { type: 'string' },
        target: { type: 'string' },
        'product-type': { type: 'string' },
        venue: { type: 'string' },
        serial: { type: 'string' },
        mac: { type: 'string' },
        model: { type: 'string' },
        iface: { type: 'string' },
        'device-token': { type: 'string' },
        'sys-root': { type: 'string' },
        retries: { type: 'string' },
        bandwidth: { type: 'string' },
        'card-write-rate': { type: 'string' },
        'chunks-in-flight': { type: 'string' },
        'no-chunks': { type: 'boolean' },
        'no-peers': { type: 'boolean' },
        'peer-port': { type: 'string' },
        'peer-cache': { type: 'string' },
        'no-linger': { type: 'boolean' },
        // Failure injection for benchmarks and tests: serve other devices corrupted chunks.
        'fault-corrupt-served': { type: 'boolean' },
        'no-customize': { type: 'boolean' },
        'no-reboot': { type: 'boolean' },
        'set-clock': { type: 'boolean' },
        'installer-stick': { type: 'string' },
        'stick-wait': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new InstallerError('USAGE', (error as Error).message);
  }
  const flags = parsed.values;
  if (flags.help) return 'help';
  const root = flags['sys-root'] ?? systemRoot ?? '/';
  const cmdline = readKernelCmdline(root);
  const pick = (flag: string | undefined, envName: string, word: string): string | null => flag ?? env[envName] ?? cmdline[`pitcrew.${word}`] ?? null;

  const serverUrl = pick(flags.server, 'PITCREW_SERVER', 'server');
  if (!serverUrl) throw new InstallerError('USAGE', 'no server given: use --server URL (or PITCREW_SERVER, or pitcrew.server= on the kernel command line)');
  try {
    const url = new URL(serverUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw new InstallerError('USAGE', `the server URL is not an http(s) URL: ${serverUrl}`);
  }

  const product = pick(flags['product-type'], 'PITCREW_PRODUCT', 'product')?.toUpperCase() ?? null;
  if (product !== null && !(PRODUCT_TYPES as readonly string[]).includes(product)) {
    throw new InstallerError('USAGE', `unknown product type ${product}; expected one of ${PRODUCT_TYPES.join(', ')}`);
  }
  // Chosen once the configuration is in (target-disk.chooser.ts), so a refusal reaches the dashboard.
  const target = pick(flags.target, 'PITCREW_TARGET', 'target') ?? 'auto';

  const retries = flags.retries === undefined ? DEFAULT_RETRY_POLICY.maxRetries : parseWholeNumber(flags.retries, { min: 0, max: 1000 });
  if (retries === null) throw new InstallerError('USAGE', `--retries must be a whole number from 0 to 1000, not ${flags.retries}`);
  const bandwidth = flags.bandwidth === undefined ? null : parseByteRate(flags.bandwidth);
  const cardWriteRate = flags['card-write-rate'] === undefined ? null : parseByteRate(flags['card-write-rate']);
  const chunksInFlight = flags['chunks-in-flight'] === undefined ? DEFAULT_CHUNKS_IN_FLIGHT : parseWholeNumber(flags['chunks-in-flight'], { min: 1, max: 16 });
  if (chunksInFlight === null) {
    throw new InstallerError('USAGE', `--chunks-in-flight must be a whole number from 1 to 16, not ${flags['chunks-in-flight']}`);
  }

  const installerStick = pick(flags['installer-stick'], 'PITCREW_STICK', 'stick')?.toLowerCase() ?? null;
  if (installerStick !== null && !/^[0-9a-f]{8}$/.test(installerStick)) {
    throw new InstallerError('USAGE', `the installer stick must be named by its disk identifier, 8 hex digits, not "${installerStick}"`);
  }
  const stickWaitText = flags['stick-wait'] ?? cmdline['pitcrew.stick-wait'];
  const stickWaitSeconds = stickWaitText === undefined ? DEFAULT_STICK_WAIT_SECONDS : parseWholeNumber(stickWaitText, { min: 0, max: 3600 });
  if (stickWaitSeconds === null) {
    throw new InstallerError('USAGE', `--stick-wait must be a whole number of seconds from 0 to 3600, not ${stickWaitText}`);
  }

  const peerPort = flags['peer-port'] === undefined ? undefined : parseWholeNumber(flags['peer-port'], { min: 1, max: 65535 });
  if (peerPort === null) {
    throw new InstallerError('USAGE', `--peer-port must be a port number from 1 to 65535, not ${flags['peer-port']}`);
  }
  const peers: PeerOptions = {
    enabled: !flags['no-peers'],
    port: peerPort,
    cacheBytes: flags['peer-cache'] === undefined ? undefined : parseSizeFlag(flags['peer-cache'], '--peer-cache'),
    linger: !flags['no-linger'],
    corruptServed: Boolean(flags['fault-corrupt-served']),
  };

  return {
    serverUrl,
    target,
    productType: product as ProductType | null,
    venueCode: pick(flags.venue, 'PITCREW_VENUE', 'venue')?.toUpperCase() ?? null,
    serial: flags.serial ?? null,
    mac: flags.mac ?? null,
    model: flags.model ?? null,
    iface: flags.iface ?? null,
    systemRoot: root,
    reboot: !flags['no-reboot'],
    customize: !flags['no-customize'],
    retryPolicy: { ...DEFAULT_RETRY_POLICY, maxRetries: retries },
    maxBytesPerSecond: bandwidth,
    cardWriteRate,
    chunksInFlight,
    rawOnly: Boolean(flags['no-chunks']),
    peers,
    json: Boolean(flags.json),
    deviceToken: pick(flags['device-token'], 'PITCREW_DEVICE_TOKEN', 'token'),
    setClock: Boolean(flags['set-clock']),
    installerStick,
    stickWaitSeconds,
  };
}

/** `pitcrew.key=value` words of /proc/cmdline. */
export function readKernelCmdline(root: string): Record<string, string> {
  const words: Record<string, string> = {};
  try {
    for (const word of readFileSync(`${root.replace(/\/$/, '')}/proc/cmdline`, 'utf8').trim().split(/\s+/)) {
      const at = word.indexOf('=');
      if (word.startsWith('pitcrew.') && at > 0) words[word.slice(0, at)] = word.slice(at + 1);
    }
  } catch {
    // No /proc/cmdline (not Linux, or a test root without one).
  }
  return words;
}

/** "20M" → 20·1024² bytes per second; plain numbers are bytes. */
export function parseByteRate(text: string): number {
  const value = parseByteSize(text, { perSecond: true });
  if (value === null || value < 1024) throw new InstallerError('USAGE', `not a bandwidth of at least 1k per second: ${text}`);
  return value;
}

/** "256M" → 256·1024² bytes; 0 is allowed (nothing kept). */
function parseSizeFlag(text: string, flag: string): number {
  const value = parseByteSize(text);
  if (value === null) throw new InstallerError('USAGE', `${flag} must be a size in bytes (k, M, G suffixes allowed), not ${text}`);
  return value;
}

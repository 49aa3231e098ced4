// Network boot as the CLI and the server use it: where its files live in the data folder, the saved network
// settings, writing the dnsmasq configuration, building the installer, and the supervised dnsmasq for `serve`.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { checkInterfaceName, generateDnsmasqConfig, validateNetbootNetwork, NetbootConfigError, type NetbootNetwork, type NetbootNetworkInput } from './dnsmasq.config.js';
import { DnsmasqSupervisor, type SupervisorLog } from './dnsmasq.supervisor.js';
import { BUILD_MANIFEST_FILE, buildInstallerInitramfs, INITRAMFS_FILE, resolveEpoch } from './initramfs.builder.js';
import { defaultAgentBundlePath, installerDir, netbootDir } from './installer-files.js';
import { defaultNodeVersion, fetchNodeRuntime, writeNodeRuntime } from './node-runtime.fetcher.js';
import { buildUsbStickImage, readStickSource, type UsbStickOptions, type UsbStickResult } from './usb-stick.builder.js';

export function netbootPaths(dataDir: string) {
  const root = netbootDir(resolve(dataDir));
  return {
    root,
    settings: join(root, 'netboot.json'),
    dnsmasqConfig: join(root, 'dnsmasq.conf'),
    leases: join(root, 'dnsmasq.leases'),
    pidRecord: join(root, 'dnsmasq.pid'),
    tftpRoot: join(root, 'tftp'),
    installer: installerDir(resolve(dataDir)),
    initramfs: join(installerDir(resolve(dataDir)), INITRAMFS_FILE),
    cache: join(root, 'cache'),
  };
}

/** IPv4 address and prefix of a local interface, or null when it has none (or does not exist). */
export function readInterfaceAddress(name: string): { address: string; prefixLength: number } | null {
  const entry = networkInterfaces()[name]?.find((a) => a.family === 'IPv4' && !a.internal);
  if (!entry?.cidr) return null;
  return { address: entry.address, prefixLength: Number(entry.cidr.split('/')[1]) };
}

export interface ConfigRequest extends Omit<NetbootNetworkInput, 'serverAddress' | 'prefixLength' | 'tftpRoot'> {
  serverAddress?: string;
  prefixLength?: number;
  tftpRoot?: string;
  /** Write settings for an interface this machine does not have (yet): requires --server-address. */
  allowMissingInterface?: boolean;
}

/**
 * Works out the full settings: the server address and prefix default to the interface's own, the TFTP root to
 * the data folder's. A name that is not an interface here is an error listing the ones that are.
 */
export function resolveNetworkSettings(dataDir: string, request: ConfigRequest): NetbootNetwork {
  const badName = checkInterfaceName(request.interface);
  if (badName) throw new NetbootConfigError([badName]);
  const local = readInterfaceAddress(request.interface);
  const exists = request.interface in networkInterfaces() || existsSync(`/sys/class/net/${request.interface}`);
  const problems: string[] = [];
  if (!exists && !request.allowMissingInterface) {
    const known = Object.keys(networkInterfaces()).filter((n) => n !== 'lo');
    problems.push(`there is no network interface "${request.interface}" on this machine (it has: ${known.join(', ') || 'none'})`);
  }
  const serverAddress = request.serverAddress ?? local?.address;
  if (!serverAddress) problems.push(`interface "${request.interface}" has no IPv4 address: give it one (e.g. 10.42.0.1/24) or pass --server-address`);
  if (problems.length) throw new NetbootConfigError(problems);
  return validateNetbootNetwork({
    ...request,
    serverAddress: serverAddress!,
    prefixLength: request.prefixLength ?? local?.prefixLength ?? 24,
    tftpRoot: resolve(request.tftpRoot ?? netbootPaths(dataDir).tftpRoot),
  });
}

/** Folders dnsmasq must pass through after dropping root: each needs the "others may enter" bit. */
export async function findUntraversableParent(path: string): Promise<string | null> {
  let current = resolve(path);
  for (;;) {
    const info = await stat(current).catch(() => null);
    if (info && (info.mode & 0o001) === 0) return current;
    const parent = dirname(current);
    if (parent === current) return null;
    current = parent;
  }
}

export interface WrittenConfig {
  network: NetbootNetwork;
  configFile: string;
  text: string;
  warnings: string[];
}

export async function writeNetbootConfig(dataDir: string, network: NetbootNetwork, output?: string): Promise<WrittenConfig> {
  const paths = netbootPaths(dataDir);
  const text = generateDnsmasqConfig({ ...network, rangeStart: network.range?.start, rangeEnd: network.range?.end, leaseTime: network.range?.leaseTime }, { leaseFile: paths.leases });
  const configFile = resolve(output ?? paths.dnsmasqConfig);
  await mkdir(dirname(configFile), { recursive: true });
  await writeFile(`${configFile}.tmp`, text);
  await rename(`${configFile}.tmp`, configFile);
  await writeFile(paths.settings, `${JSON.stringify(network, null, 2)}\n`);
  // dnsmasq refuses to start without its TFTP folder; `netboot prepare` fills it later.
  await mkdir(network.tftpRoot, { recursive: true, mode: 0o755 });
  const warnings: string[] = [];
  const blocked = await findUntraversableParent(network.tftpRoot);
  if (blocked) warnings.push(`dnsmasq drops root privileges and cannot enter ${blocked}: use a TFTP folder outside it (--tftp-root /srv/pitcrew/tftp) or run \`chmod o+x ${blocked}\``);
  return { network, configFile, text, warnings };
}

export async function readSavedNetwork(dataDir: string): Promise<NetbootNetwork | null> {
  try {
    return JSON.parse(await readFile(netbootPaths(dataDir).settings, 'utf8')) as NetbootNetwork;
  } catch {
    return null;
  }
}

/** The TFTP folder `netboot prepare` filled: the saved configuration's, else the data folder's. */
export async function resolveTftpRoot(dataDir: string): Promise<string> {
  return resolve((await readSavedNetwork(dataDir))?.tftpRoot ?? netbootPaths(dataDir).tftpRoot);
}

export interface UsbStickRequest extends Omit<UsbStickOptions, 'tftpDir'> {
  dataDir: string;
  /** Default: the prepared TFTP folder of this data folder. */
  tftpDir?: string;
}

/** The installer stick image, from the network boot folder the CLI and the server both know. */
export async function buildUsbStick(request: UsbStickRequest): Promise<UsbStickResult> {
  const { dataDir, tftpDir, ...options } = request;
  return buildUsbStickImage({ ...options, tftpDir: tftpDir ?? (await resolveTftpRoot(dataDir)) });
}

/** For the dashboard: can a stick be built here, and which server would it name by default. */
export async function describeUsbStickSource(dataDir: string): Promise<{ available: boolean; serverUrl: string | null }> {
  return readStickSource(await resolveTftpRoot(dataDir));
}

export interface BuildRequest {
  dataDir: string;
  nodeVersion?: string;
  cacheDir?: string;
  sourcesFile?: string;
  log?: (line: string) => void;
}

export interface BuildSummary {
  initramfs: { file: string; sha256: string; size: number };
  node: { file: string; sha256: string; size: number; version: string };
  agentBundle: string | null;
  manifestFile: string;
}

/** `pitcrew netboot build`: the initramfs and Node for arm64 into <dataDir>/netboot/installer. */
export async function buildInstaller(request: BuildRequest): Promise<BuildSummary> {
  const paths = netbootPaths(request.dataDir);
  const cacheDir = resolve(request.cacheDir ?? paths.cache);
  const runtime = await fetchNodeRuntime(cacheDir, request.nodeVersion ?? defaultNodeVersion(), request.log);
  const initramfs = await buildInstallerInitramfs({
    outDir: paths.installer,
    cacheDir,
    sourcesFile: request.sourcesFile,
    mustRun: [{ name: `node ${runtime.version}`, data: runtime.binary }],
    log: request.log,
  });
  const node = await writeNodeRuntime(runtime, paths.installer);
  const agentBundle = existsSync(defaultAgentBundlePath()) ? defaultAgentBundlePath() : null;
  const manifestFile = join(paths.installer, BUILD_MANIFEST_FILE);
  const manifest = {
    source_date_epoch: resolveEpoch(),
    initramfs: { file: INITRAMFS_FILE, sha256: initramfs.sha256, size: initramfs.size, packages: initramfs.packages },
    node: { file: 'node.gz', version: runtime.version, npm_integrity: runtime.integrity, sha256: node.sha256, size: node.size },
  };
  await writeFile(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  return { initramfs, node: { ...node, version: runtime.version }, agentBundle, manifestFile };
}

export interface NetbootSupervisorSetup {
  dataDir: string;
  log?: SupervisorLog;
  binary?: string;
}

/**
 * The supervised dnsmasq for `pitcrew serve --netboot`, using the configuration `pitcrew netboot config`
 * wrote. The caller starts it after the server listens and stops it on shutdown.
 */
export function createNetbootSupervisor(setup: NetbootSupervisorSetup): DnsmasqSupervisor {
  const paths = netbootPaths(setup.dataDir);
  if (!existsSync(paths.dnsmasqConfig)) {
    throw new NetbootConfigError([`there is no network boot configuration at ${paths.dnsmasqConfig}: run \`pitcrew netboot config\` first`]);
  }
  // The text is checked again here so a hand edit that broke it shows up at start-up, not as a restart loop.
  if (!readFileSync(paths.dnsmasqConfig, 'utf8').includes('pxe-service=')) {
    throw new NetbootConfigError([`${paths.dnsmasqConfig} is not a Pitcrew network boot configuration: regenerate it with \`pitcrew netboot config\``]);
  }
  return new DnsmasqSupervisor({ configFile: paths.dnsmasqConfig, pidRecord: paths.pidRecord, log: setup.log, binary: setup.binary });
}

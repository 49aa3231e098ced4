// A venue's deployment network in network namespaces, for the fleet benchmark: a "switch" namespace holding a
// Linux bridge, a "server" namespace and one namespace per device, each joined to the bridge by a veth pair.
// tbf shapes both ends of every link: the server's uplink (both directions) to the uplink rate, each device's
// link (both directions) to the link rate; netem adds a small one-way delay on the endpoints where the kernel
// has it. Nothing touches the host's own interfaces: every veth is created inside the namespaces. Only the kernel's
// ARP table limits, which all namespaces share, are raised for a large fleet and put back afterwards.
// Names carry the creating process's id (pcf<pid>-…); namespaces of a process that no longer runs are removed
// on the next start. teardown() (also run on SIGINT/SIGTERM and at exit) kills what runs in them and deletes them.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { hasCommand } from './support.js';

export interface NetworkSpec {
  devices: number;
  uplinkBitsPerSecond: number;
  linkBitsPerSecond: number;
  /** One-way delay added at each endpoint (server and devices), ms; 0 for none. */
  delayMs: number;
}

export interface Endpoint {
  ns: string;
  address: string;
}

export interface ShapedNetwork {
  server: Endpoint;
  devices: Endpoint[];
  /** What the shaping is, in words ("tbf 1 Gbit/s …, netem 0.1 ms", or why there is no delay). */
  description: string;
  /** Bytes sent so far by `eth0` of the namespace. */
  txBytes(ns: string): number;
  teardown(): void;
}

const PREFIX = 'pcf';
const tag = `${PREFIX}${process.pid}`;

// Cleanup that must happen even on Ctrl-C: run synchronously from signal and exit handlers.
const cleanups = new Set<() => void>();
let handlersInstalled = false;
function runCleanups(): void {
  for (const cleanup of [...cleanups].reverse()) {
    cleanups.delete(cleanup);
    try {
      cleanup();
    } catch {
      // Best effort: the next cleanup still runs.
    }
  }
}
const onSignal = (signal: NodeJS.Signals) => {
  console.error(`\n  ${signal}: removing the benchmark's namespaces, processes and files`);
  runCleanups();
  process.exit(signal === 'SIGINT' ? 130 : 143);
};

/** Registers a synchronous cleanup, run on SIGINT/SIGTERM or exit unless the returned function removes it first. */
export function onCleanup(cleanup: () => void): () => void {
  if (!handlersInstalled) {
    handlersInstalled = true;
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('exit', runCleanups);
  }
  cleanups.add(cleanup);
  return () => {
    cleanups.delete(cleanup);
    if (cleanups.size === 0 && handlersInstalled) {
      handlersInstalled = false;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('exit', runCleanups);
    }
  };
}

function sh(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${(result.stderr || result.error?.message || `exit ${result.status}`).trim()}`);
  return result.stdout;
}
const trySh = (command: string, args: string[]): boolean => spawnSync(command, args, { stdio: 'ignore' }).status === 0;

function listNamespaces(): string[] {
  const result = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.split('\n').map((line) => line.split(' ')[0]!).filter(Boolean) : [];
}

function deleteNamespace(ns: string): void {
  // Only processes the benchmark started run in its namespaces.
  const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout?.split('\n').filter(Boolean) ?? [];
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  trySh('ip', ['netns', 'delete', ns]);
}

/** Namespaces left by a benchmark process that was killed outright (SIGKILL leaves no chance to clean up). */
function removeStaleNamespaces(): void {
  for (const ns of listNamespaces()) {
    const match = new RegExp(`^${PREFIX}(\\d+)-`).exec(ns);
    if (!match || Number(match[1]) === process.pid) continue;
    let alive = true;
    try {
      process.kill(Number(match[1]), 0);
    } catch {
      alive = false;
    }
    if (!alive) deleteNamespace(ns);
  }
}

const tbf = (bitsPerSecond: number) => {
  // Burst of 2 ms at the rate (never under 64 KiB, one GSO packet), queue of 5 ms.
  const burst = Math.max(64 * 1024, Math.round((bitsPerSecond / 8) * 0.002));
  return ['tbf', 'rate', `${Math.round(bitsPerSecond)}bit`, 'burst', String(burst), 'latency', '5ms'];
};

let netemKnown: boolean | null = null;
function hasNetem(): boolean {
  if (netemKnown !== null) return netemKnown;
  const ns = `${tag}-probe`;
  try {
    sh('ip', ['netns', 'add', ns]);
    netemKnown = trySh('tc', ['-n', ns, 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '0.1ms']);
  } catch {
    netemKnown = false;
  } finally {
    deleteNamespace(ns);
  }
  return netemKnown;
}

/** Why a shaped network cannot be built here, or null when it can (checked by building a tiny one). */
export function shapedNetworkUnavailable(): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces and tc need root';
  for (const tool of ['ip', 'tc']) if (!hasCommand(tool)) return `${tool} is missing (Debian package iproute2)`;
  const ns = `${tag}-probe`;
  try {
    sh('ip', ['netns', 'add', ns]);
    sh('ip', ['-n', ns, 'link', 'add', 'name', 'va', 'type', 'veth', 'peer', 'name', 'vb']);
    sh('ip', ['-n', ns, 'link', 'add', 'name', 'br0', 'type', 'bridge']);
    sh('tc', ['-n', ns, 'qdisc', 'add', 'dev', 'va', 'root', ...tbf(1e9)]);
    return null;
  } catch (error) {
    return `this kernel does not allow the test network (${(error as Error).message.split('\n')[0]})`;
  } finally {
    deleteNamespace(ns);
  }
}

const deviceAddress = (i: number) => `10.213.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;

const NEIGHBOUR_THRESHOLDS = ['gc_thresh1', 'gc_thresh2', 'gc_thresh3'].map((name) => `/proc/sys/net/ipv4/neigh/default/${name}`);

/**
 * Room in the kernel's ARP table for every endpoint to know every other. The table and its limits are one for all
 * namespaces (1024 entries by default), where each Pi has a table of its own: a hundred devices talking to each
 * other overflow it ("neighbor table overflow!"), and peers then fail with EHOSTUNREACH for want of a table entry
 * the venue's network would have had. Raised for the run, the old values put back at teardown.
 */
function makeRoomForNeighbours(endpoints: number): () => void {
  const wanted = endpoints * endpoints + 1024;
  try {
    const old = NEIGHBOUR_THRESHOLDS.map((file) => readFileSync(file, 'utf8').trim());
    if (Number(old[2]) >= wanted) return () => {};
    // Raised from the top down and lowered from the bottom up: the kernel wants gc_thresh1 ≤ gc_thresh2 ≤ gc_thresh3.
    for (const file of [...NEIGHBOUR_THRESHOLDS].reverse()) writeFileSync(file, String(wanted));
    return () => NEIGHBOUR_THRESHOLDS.forEach((file, i) => writeFileSync(file, old[i]!));
  } catch (error) {
    console.error(`  warning: the ARP table limits could not be raised (${(error as Error).message}); peers may fail with EHOSTUNREACH`);
    return () => {};
  }
}

export function createShapedNetwork(spec: NetworkSpec): ShapedNetwork {
  removeStaleNamespaces();
  const switchNs = `${tag}-sw`;
  const created: string[] = [];
  const restoreNeighbours = makeRoomForNeighbours(spec.devices + 1);
  const teardown = () => {
    for (const ns of created.splice(0).reverse()) deleteNamespace(ns);
    restoreNeighbours();
  };
  const unregister = onCleanup(teardown);
  const delay = spec.delayMs > 0 && hasNetem() ? spec.delayMs : 0;

  const addNamespace = (ns: string) => {
    sh('ip', ['netns', 'add', ns]);
    created.push(ns);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  };
  const attach = (ns: string, port: string, address: string, towardEndpoint: number, fromEndpoint: number) => {
    addNamespace(ns);
    sh('ip', ['-n', switchNs, 'link', 'add', 'name', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    sh('ip', ['-n', switchNs, 'link', 'set', port, 'master', 'br0', 'up']);
    sh('ip', ['-n', ns, 'addr', 'add', `${address}/16`, 'dev', 'eth0']);
    sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    sh('tc', ['-n', switchNs, 'qdisc', 'add', 'dev', port, 'root', ...tbf(towardEndpoint)]);
    if (delay > 0) {
      sh('tc', ['-n', ns, 'qdisc', 'add', 'dev', 'eth0', 'root', 'handle', '1:', 'netem', 'delay', `${delay}ms`]);
      sh('tc', ['-n', ns, 'qdisc', 'add', 'dev', 'eth0', 'parent', '1:1', 'handle', '10:', ...tbf(fromEndpoint)]);
    } else {
      sh('tc', ['-n', ns, 'qdisc', 'add', 'dev', 'eth0', 'root', ...tbf(fromEndpoint)]);
    }
  };

  try {
    addNamespace(switchNs);
    sh('ip', ['-n', switchNs, 'link', 'add', 'name', 'br0', 'type', 'bridge']);
    sh('ip', ['-n', switchNs, 'link', 'set', 'br0', 'up']);
    const server = { ns: `${tag}-srv`, address: '10.213.0.1' };
    attach(server.ns, 'p-srv', server.address, spec.uplinkBitsPerSecond, spec.uplinkBitsPerSecond);
    const devices: Endpoint[] = [];
    for (let i = 0; i < spec.devices; i++) {
      const device = { ns: `${tag}-d${i + 1}`, address: deviceAddress(i) };
      attach(device.ns, `p-d${i + 1}`, device.address, spec.linkBitsPerSecond, spec.linkBitsPerSecond);
      devices.push(device);
    }
    const gbit = (bits: number) => `${(bits / 1e9).toFixed(bits % 1e9 === 0 ? 0 : 2)} Gbit/s`;
    return {
      server,
      devices,
      description:
        `bridge in its own namespace; tbf: server uplink ${gbit(spec.uplinkBitsPerSecond)}, each device link ${gbit(spec.linkBitsPerSecond)}; ` +
        (delay > 0 ? `netem ${delay} ms one-way at each end` : spec.delayMs > 0 ? 'no added delay (this kernel has no netem)' : 'no added delay'),
      txBytes(ns) {
        const [link] = JSON.parse(sh('ip', ['-n', ns, '-j', '-s', 'link', 'show', 'eth0'])) as [{ stats64: { tx: { bytes: number } } }];
        return link.stats64.tx.bytes;
      },
      teardown() {
        teardown();
        unregister();
      },
    };
  } catch (error) {
    teardown();
    unregister();
    throw error;
  }
}

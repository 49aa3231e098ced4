// Fleet benchmark on a shaped network: the real server in a "server" network namespace behind a 1 Gbit/s uplink,
// 20 devices each in a namespace of its own on a 1 Gbit/s link, all joined by a bridge (bench/shaped-network.ts);
// each device runs the real installer bundle (dist/agent/pitcrew-agent.mjs) onto a sparse 32 GB file standing in
// for its card, written no faster than a card (40 MB/s). The master is Raspberry-Pi-OS-like, ~2.6 GiB, with a real
// arm64 Debian root filesystem (bench/pi-os-master.ts, cached).
// Paths, in turn on the same server, image and network (PITCREW_BENCH_FLEET_PATHS, default alone,v2,peers):
//   alone   one device by itself (image delivery v2, one-to-many on: a lone device): the reference for the fleet;
//   raw     every device downloads the raw image (v1);
//   v2      every device fetches the v2 chunks from the server alone (--no-peers);
//   peers   one-to-many delivery: devices fetch chunks from each other too;
//   faults  one-to-many with 10 % of the devices killed mid-transfer, 5 % serving corrupted chunks and 10 %
//           joining late: every other device must end verified.
// Each is printed with its makespan (first configuration request to the last device installed, not counting the
// time finished devices keep serving others), when the median and the 90th-percentile device ended, the server's
// egress against the compressed image, the share of bytes that came from peers, server CPU, the installers' CPU per
// device and the host's idle share, and the physical limit max(bytes the server must send ÷ uplink, mapped bytes ÷
// card rate). Twenty installers share the host's two cores where each Pi has four of its own, so the host's CPU can
// bound a run before the link or the cards do (it says so);
// PITCREW_BENCH_FLEET_MASTER=small uses a master without kernel modules, firmware, docs and Python, where they are not.
// The server runs at the kernel's highest priority, as if on a machine of its own.
// Cards live in the temp dir; where its disk cannot hold them all (the raw path writes 20 × 2.6 GiB, zeros
// included) they go on a zstd-compressed btrfs in a loop file, removed afterwards.
// Needs root, network namespaces and tc (says why and returns otherwise). Sizes:
//   PITCREW_BENCH_FLEET_DEVICES (20), PITCREW_BENCH_FLEET_IMAGE_MIB (2662, 2.6 GiB; small: 640),
//   PITCREW_BENCH_FLEET_MASTER (full | small), PITCREW_BENCH_FLEET_CARD_MBPS (40, MB/s written to each card),
//   PITCREW_BENCH_FLEET_LINK_MBIT (1000, each device), PITCREW_BENCH_FLEET_UPLINK_MBIT (1000, the server),
//   PITCREW_BENCH_FLEET_DELAY_MS (0.1 one-way at each end, where the kernel has netem), PITCREW_BENCH_FLEET_CARD_GIB
//   (32, sparse), PITCREW_BENCH_FLEET_PATHS (alone,v2,peers), PITCREW_BENCH_FLEET_PEER_CACHE (the installers'
//   --peer-cache, e.g. 48M where a hundred of them share this host's memory), PITCREW_BENCH_FLEET_SINK (1: installers
//   hash into a sink, no card: delivery alone, to compare with bench/one-to-many-mechanisms.bench.ts),
//   PITCREW_BENCH_FLEET_PROFILE_DIR (a V8 CPU profile of each installer, in <dir>/<path>/device-N.cpuprofile),
//   PITCREW_BENCH_FLEET_LOG_DIR (each installer's log, in <dir>/<path>/device-N.log),
//   PITCREW_BENCH_CACHE (data/bench-cache).
// Small configuration while developing: PITCREW_BENCH_FLEET_DEVICES=4 PITCREW_BENCH_FLEET_MASTER=small.
// Run as `node --import tsx bench/fleet-network.bench.ts --serve '{…}'` this file is that server.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, truncate, writeFile } from 'node:fs/promises';
import { cpus, setPriority } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { piOsMaster, prepareMasterTools, benchCacheDir, rootfsTarName, type MasterVariant } from './pi-os-master.js';
import { createShapedNetwork, onCleanup, shapedNetworkUnavailable, type ShapedNetwork } from './shaped-network.js';
import { envNumber, hasCommand, tempDir } from './support.js';
import { fetchNodeRuntime, INSTALLER_NODE_VERSION } from '../src/netboot/node-runtime.fetcher.js';

const MIB = 1 << 20;
const GIB = 1 << 30;
const DEVICE_PORT = 5001;
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const agentBundle = join(repoRoot, 'dist/agent/pitcrew-agent.mjs');

/** The v2 figures of the image record (null until the server has built its chunks). */
interface DeliveryFigures {
  block_map: string;
  mapped_bytes: number;
  compressed_bytes: number;
  chunk_count: number;
}
interface ServerHello {
  device: string;
  pid: number;
  image: { size_bytes: number; delivery: DeliveryFigures | null };
}

async function serve(): Promise<void> {
  const args = JSON.parse(process.argv[process.argv.indexOf('--serve') + 1]!) as { dataDir: string; image: string; host: string };
  // In the field the server has cores of its own; here a hundred installers share two with it, and the kernel's fair
  // share would leave it a hundredth of them, answering announces seconds late. The highest priority stands in for
  // its own machine (it needs a few seconds of CPU in a whole run).
  try {
    setPriority(-20);
  } catch (error) {
    process.stderr.write(`note: the server keeps its usual priority (${(error as Error).message}): with many devices it answers late, starved of CPU\n`);
  }
  const { buildApp } = await import('../src/server/build-app.js');
  const { loadConfig } = await import('../src/server/config.js');
  const server = await buildApp(loadConfig({}, { dataDir: args.dataDir, port: 0, devicePort: DEVICE_PORT, host: '127.0.0.1', deviceHost: args.host, logLevel: 'silent' }));
  server.core.venues.create({ code: 'BNCH', name: 'Benchmark' });
  server.core.pool.importKartNumbers({ venue_code: 'BNCH', numbers: '1-9999' });
  const registered = await server.core.images.registerFile({ product_type: 'KXP2', version: '1.0.0' }, args.image);
  server.core.images.activate(registered.id);
  const image = server.core.images.list().find((one) => one.id === registered.id)!;
  const { device } = await server.listen();
  const hello: ServerHello = { device, pid: process.pid, image: { size_bytes: image.size_bytes, delivery: (image as { delivery?: DeliveryFigures | null }).delivery ?? null } };
  process.stdout.write(`${JSON.stringify(hello)}\n`);
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
}

type PathName = 'alone' | 'raw' | 'v2' | 'peers' | 'faults';
const PATH_NAMES: readonly PathName[] = ['alone', 'raw', 'v2', 'peers', 'faults'];

interface Settings {
  devices: number;
  imageMib: number;
  master: MasterVariant;
  cardBytesPerSecond: number;
  linkBitsPerSecond: number;
  uplinkBitsPerSecond: number;
  delayMs: number;
  cardBytes: number;
  paths: PathName[];
  /** Installers hash what they receive into a sink instead of writing a card: delivery alone, no card in the way. */
  sink: boolean;
  /** --peer-cache for every installer (memory: a hundred installers share this host's), or null for their default. */
  peerCache: string | null;
  /** A folder for each installer's V8 CPU profile (where its CPU goes), or null. */
  profileDir: string | null;
  /** A folder for each installer's own log (JSON lines), or null. */
  logDir: string | null;
}

function settings(): Settings {
  const delay = Number(process.env.PITCREW_BENCH_FLEET_DELAY_MS ?? 0.1);
  const master: MasterVariant = process.env.PITCREW_BENCH_FLEET_MASTER === 'small' ? 'small' : 'full';
  return {
    devices: Math.round(envNumber('PITCREW_BENCH_FLEET_DEVICES', 20)),
    imageMib: Math.round(envNumber('PITCREW_BENCH_FLEET_IMAGE_MIB', master === 'small' ? 640 : 2662)),
    master,
    cardBytesPerSecond: envNumber('PITCREW_BENCH_FLEET_CARD_MBPS', 40) * 1e6,
    linkBitsPerSecond: envNumber('PITCREW_BENCH_FLEET_LINK_MBIT', 1000) * 1e6,
    uplinkBitsPerSecond: envNumber('PITCREW_BENCH_FLEET_UPLINK_MBIT', 1000) * 1e6,
    delayMs: Number.isFinite(delay) && delay >= 0 ? delay : 0.1,
    cardBytes: envNumber('PITCREW_BENCH_FLEET_CARD_GIB', 32) * GIB,
    paths: (process.env.PITCREW_BENCH_FLEET_PATHS ?? 'alone,v2,peers')
      .split(',')
      .map((p) => p.trim())
      .filter((p): p is PathName => (PATH_NAMES as readonly string[]).includes(p)),
    peerCache: process.env.PITCREW_BENCH_FLEET_PEER_CACHE ?? null,
    sink: process.env.PITCREW_BENCH_FLEET_SINK === '1',
    profileDir: process.env.PITCREW_BENCH_FLEET_PROFILE_DIR || null,
    logDir: process.env.PITCREW_BENCH_FLEET_LOG_DIR || null,
  };
}

/** Why this benchmark cannot run here, or null. */
function unavailable(): string | null {
  const network = shapedNetworkUnavailable();
  if (network) return network;
  if (!existsSync(agentBundle)) return 'the installer bundle dist/agent/pitcrew-agent.mjs is missing (npm run build)';
  return prepareMasterTools(!existsSync(join(benchCacheDir(), rootfsTarName())));
}

/** The installer's options this benchmark relies on, from its --help. */
interface InstallerFlags {
  /** The Node binary the installers run on: the installer runtime's version where it can be had, as on a Pi. */
  node: string;
  cardWriteRate: boolean;
  /** How to make the installer take the raw path where the server offers v2, if it can be told. */
  rawOnly: string[] | null;
  /** Whether it knows one-to-many delivery (and so --no-peers, to refuse it). */
  peers: boolean;
  stale: boolean;
}
function installerFlags(node: string): InstallerFlags {
  const help = spawnSync(node, [agentBundle, '--help'], { encoding: 'utf8' }).stdout ?? '';
  const bundleTime = statSync(agentBundle).mtimeMs;
  const agentDir = join(repoRoot, 'src/agent');
  const stale = readdirSync(agentDir).some((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && statSync(join(agentDir, f)).mtimeMs > bundleTime);
  const rawOnly = help.includes('--no-chunks') ? ['--no-chunks'] : help.includes('--delivery') ? ['--delivery', 'raw'] : null;
  return { node, cardWriteRate: help.includes('--card-write-rate'), rawOnly, peers: help.includes('--no-peers'), stale };
}

/**
 * The x64 build of the Node version the network-booted installer runs (its zlib decompresses zstd), cached beside
 * the master. On this host's own Node 20 the installer spawns the zstd program per chunk, which costs the host's
 * shared cores far more than a Pi's decompression would.
 */
async function installerNode(log: (line: string) => void): Promise<string> {
  const binary = join(benchCacheDir(), 'node', `node-linux-x64-${INSTALLER_NODE_VERSION}`);
  if (existsSync(binary)) return binary;
  try {
    const runtime = await fetchNodeRuntime(benchCacheDir(), INSTALLER_NODE_VERSION, log, 'x64');
    await writeFile(`${binary}.tmp`, runtime.binary, { mode: 0o755 });
    renameSync(`${binary}.tmp`, binary);
    return binary;
  } catch (error) {
    log(`installers run on this host's Node ${process.version} (${(error as Error).message}): each chunk spawns the zstd program`);
    return process.execPath;
  }
}

async function startServer(network: ShapedNetwork, dataDir: string, image: string): Promise<{ hello: ServerHello; stop: () => Promise<void> }> {
  const child = spawn('ip', ['netns', 'exec', network.server.ns, process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), '--serve', JSON.stringify({ dataDir, image, host: network.server.address })], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`the server stopped before it was ready (exit ${String(code)})`);
  });
  // Registering a 2.6 GiB image (hash, block map, chunks) takes a while on two cores; bounded all the same.
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the server was not ready within 20 minutes')), 20 * 60_000).unref());
  const [line] = (await Promise.race([once(createInterface({ input: child.stdout }), 'line'), exited, timeout])) as [string];
  exited.catch(() => {});
  return {
    hello: JSON.parse(line) as ServerHello,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await once(child, 'exit');
      clearTimeout(timer);
    },
  };
}

/** The value below which a share `q` of `values` lies (nearest rank); NaN for none. */
function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

// /proc readings of a process (the benchmark runs in the same PID namespace as every namespace's processes).
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in USER_HZ (100 on Linux)
}
function peakRssBytes(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}
/** Resets VmHWM, so the next reading is the peak since now. */
const resetPeakRss = (pid: number) => writeFileSync(`/proc/${pid}/clear_refs`, '5');

interface PathResult {
  path: PathName;
  devices: number;
  /** Devices expected to end installed (all but those killed on purpose). */
  expected: number;
  completed: number;
  failures: string[];
  makespanS: number;
  /** When the median device, and the one at the 90th percentile, ended installed (from the first request). */
  medianS: number;
  p90S: number;
  egressBytes: number;
  /** Compressed bytes the installers received from each other, and in all. */
  peerBytes: number;
  receivedBytes: number;
  serverCpuS: number;
  serverPeakRss: number;
  devicePeakRss: number;
  /** CPU of all installers together, s (sampled every 200 ms: the last moments of each are missed). */
  devicesCpuS: number;
  /** Share of the host's CPU time that was idle during the run. */
  idleShare: number;
  /** What the installers said they took, e.g. "chunked ×20". */
  deliveries: string;
  /** What the fault injection did, in words. */
  faults: string | null;
}

interface DeviceRun {
  child: ChildProcess | null;
  /** Resolves when the installer has exited (or never started). */
  exited: Promise<void>;
  /** Killed on purpose mid-transfer (faults): not expected to finish. */
  leaver: boolean;
  firstAskMs: number | null;
  installedMs: number | null;
  peakRss: number;
  /** utime + stime at the last sample, s. */
  cpuS: number;
  bytes: number;
  peerBytes: number;
  /** What the installer said it took (its `delivery` log field), if it said. */
  delivery: string | null;
  tail: string[];
  exitCode: number | null;
}

/** Host CPU times from /proc/stat: idle (idle + iowait) and total, in USER_HZ. */
function hostCpu(): { idle: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { idle: fields[3]! + fields[4]!, total: fields.reduce((sum, n) => sum + n, 0) };
}

/** Which devices misbehave in the faults path: distinct, spread over the fleet, at least one of each. */
function faultPlan(devices: number): { leavers: Set<number>; corrupt: Set<number>; late: Set<number> } {
  const pick = (share: number, offset: number) => {
    const count = Math.max(1, Math.round(devices * share));
    return new Set(Array.from({ length: count }, (_, k) => (offset + Math.floor((k * devices) / count)) % devices));
  };
  const leavers = pick(0.1, 1);
  const corrupt = new Set([...pick(0.05, 3)].filter((i) => !leavers.has(i)));
  const late = new Set([...pick(0.1, 5)].filter((i) => !leavers.has(i) && !corrupt.has(i)));
  return { leavers, corrupt, late };
}

async function runPath(
  path: PathName,
  network: ShapedNetwork,
  server: ServerHello,
  targetsDir: string,
  config: Settings,
  flags: InstallerFlags,
  /** Expected time for one device alone, s: when the faults happen. */
  aloneS: number,
  timeoutS: number,
): Promise<PathResult> {
  await mkdir(targetsDir, { recursive: true });
  // The cards, not the folder: it may be a mount point.
  const removeTargets = () => readdirSync(targetsDir).forEach((file) => rmSync(join(targetsDir, file), { force: true }));
  const unregister = onCleanup(removeTargets);
  const endpoints = path === 'alone' ? network.devices.slice(0, 1) : network.devices;
  const plan = path === 'faults' ? faultPlan(endpoints.length) : { leavers: new Set<number>(), corrupt: new Set<number>(), late: new Set<number>() };
  const timers: NodeJS.Timeout[] = [];
  try {
    const egressBefore = network.txBytes(network.server.ns);
    const cpuBefore = cpuSeconds(server.pid);
    const hostBefore = hostCpu();
    resetPeakRss(server.pid);
    const runs: DeviceRun[] = [];
    const start = async (i: number, device: (typeof endpoints)[number], run: DeviceRun) => {
      const target = config.sink ? 'sink' : join(targetsDir, `card-${i + 1}.img`);
      if (!config.sink) {
        await writeFile(target, '');
        await truncate(target, config.cardBytes); // sparse: a 32 GB card, blank
      }
      const args = [
        agentBundle,
        '--server', server.device,
        '--target', target,
        '--product-type', 'KXP2',
        '--venue', 'BNCH',
        '--serial', `${path}${String(i + 1).padStart(6, '0')}`.slice(-16),
        '--mac', `02:42:${PATH_NAMES.indexOf(path).toString(16).padStart(2, '0')}:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`,
        '--model', 'Raspberry Pi 4 Model B Rev 1.5',
        '--no-reboot',
        '--json',
        ...(flags.cardWriteRate && !config.sink ? ['--card-write-rate', String(Math.round(config.cardBytesPerSecond))] : []),
        ...(path === 'raw' && flags.rawOnly ? flags.rawOnly : []),
        ...(path === 'v2' && flags.peers ? ['--no-peers'] : []),
        ...(plan.corrupt.has(i) ? ['--fault-corrupt-served'] : []),
        ...(config.peerCache && flags.peers ? ['--peer-cache', config.peerCache] : []),
      ];
      // `ip netns exec` execs the command: the child's pid is the installer's node process.
      const profile = config.profileDir ? ['--cpu-prof', '--cpu-prof-dir', join(config.profileDir, path), '--cpu-prof-name', `device-${i + 1}.cpuprofile`] : [];
      const child = spawn('ip', ['netns', 'exec', device.ns, flags.node, ...profile, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      run.child = child;
      if (config.logDir) {
        mkdirSync(join(config.logDir, path), { recursive: true });
        child.stdout.pipe(createWriteStream(join(config.logDir, path, `device-${i + 1}.log`)));
      }
      createInterface({ input: child.stdout }).on('line', (line) => {
        try {
          const entry = JSON.parse(line) as { time: string; msg: string; phase?: string; delivery?: unknown; bytes?: number; peer_bytes?: number };
          if (entry.phase === 'config' && run.firstAskMs === null) run.firstAskMs = Date.parse(entry.time);
          if (entry.phase === 'completed') run.installedMs = Date.parse(entry.time);
          if (entry.delivery !== undefined) run.delivery = typeof entry.delivery === 'string' ? entry.delivery : JSON.stringify(entry.delivery);
          if (entry.msg.startsWith('done in')) {
            run.installedMs ??= Date.parse(entry.time);
            run.bytes = entry.bytes ?? 0;
            run.peerBytes = entry.peer_bytes ?? 0;
          }
        } catch {
          // Not a log line.
        }
      });
      createInterface({ input: child.stderr }).on('line', (line) => {
        run.tail.push(line);
        if (run.tail.length > 5) run.tail.shift();
      });
      run.exited = new Promise((resolve) =>
        child.on('exit', (code, signal) => {
          run.exitCode = code ?? (signal ? 128 : 1);
          resolve();
        }),
      );
      // Leavers are pulled mid-transfer: about a third of the way through what one device alone takes.
      if (run.leaver) timers.push(setTimeout(() => child.kill('SIGKILL'), aloneS * 1000 * 0.35));
    };
    for (const [i, device] of endpoints.entries()) {
      const run: DeviceRun = { child: null, exited: Promise.resolve(), leaver: plan.leavers.has(i), firstAskMs: null, installedMs: null, peakRss: 0, cpuS: 0, bytes: 0, peerBytes: 0, delivery: null, tail: [], exitCode: null };
      runs.push(run);
      // Late joiners arrive when the others are a quarter of the way through.
      if (plan.late.has(i)) timers.push(setTimeout(() => void start(i, device, run), aloneS * 1000 * 0.25));
      else await start(i, device, run);
    }
    const sample = () => {
      for (const run of runs) {
        if (run.exitCode !== null || run.child?.pid === undefined) continue;
        try {
          run.peakRss = Math.max(run.peakRss, peakRssBytes(run.child.pid));
          run.cpuS = cpuSeconds(run.child.pid);
        } catch {
          // Exited between the check and the read.
        }
      }
    };
    const sampler = setInterval(sample, 200);
    const deadline = setTimeout(() => {
      for (const run of runs) if (run.exitCode === null) run.child?.kill('SIGTERM');
      setTimeout(() => runs.forEach((run) => run.exitCode === null && run.child?.kill('SIGKILL')), 10_000).unref();
    }, timeoutS * 1000);
    try {
      // Bounded: the deadline ends every installer, and a late joiner starts within a fraction of it.
      while (runs.some((run) => run.exitCode === null)) {
        await Promise.race([...runs.filter((run) => run.child && run.exitCode === null).map((run) => run.exited), new Promise((resolve) => setTimeout(resolve, 500))]);
      }
    } finally {
      clearInterval(sampler);
      clearTimeout(deadline);
    }
    const hostAfter = hostCpu();
    const kept = runs.filter((run) => !run.leaver);
    const failures = kept.flatMap((run) => {
      const i = runs.indexOf(run);
      return run.exitCode === 0 && run.installedMs !== null ? [] : [`device ${i + 1}: exit ${run.exitCode}${run.exitCode === null || run.exitCode > 128 ? ` (stopped after ${timeoutS} s)` : ''}: ${run.tail.join(' | ') || 'no output'}`];
    });
    const asked = runs.map((run) => run.firstAskMs).filter((t): t is number => t !== null);
    const installed = kept.map((run) => run.installedMs).filter((t): t is number => t !== null);
    return {
      path,
      devices: runs.length,
      expected: kept.length,
      completed: kept.filter((run) => run.exitCode === 0 && run.installedMs !== null).length,
      failures,
      makespanS: asked.length && installed.length ? (Math.max(...installed) - Math.min(...asked)) / 1000 : NaN,
      // Over every device expected to finish: one that did not counts as never.
      medianS: asked.length ? (quantile(kept.map((run) => run.installedMs ?? Infinity), 0.5) - Math.min(...asked)) / 1000 : NaN,
      p90S: asked.length ? (quantile(kept.map((run) => run.installedMs ?? Infinity), 0.9) - Math.min(...asked)) / 1000 : NaN,
      egressBytes: network.txBytes(network.server.ns) - egressBefore,
      peerBytes: runs.reduce((sum, run) => sum + run.peerBytes, 0),
      receivedBytes: runs.reduce((sum, run) => sum + run.bytes, 0),
      serverCpuS: cpuSeconds(server.pid) - cpuBefore,
      serverPeakRss: peakRssBytes(server.pid),
      devicePeakRss: Math.max(0, ...runs.map((run) => run.peakRss)),
      devicesCpuS: runs.reduce((sum, run) => sum + run.cpuS, 0),
      idleShare: (hostAfter.idle - hostBefore.idle) / Math.max(1, hostAfter.total - hostBefore.total),
      deliveries: [...new Set(runs.map((run) => run.delivery ?? 'not said'))].map((d) => `${d} ×${runs.filter((run) => (run.delivery ?? 'not said') === d).length}`).join(', '),
      faults:
        path === 'faults'
          ? `${plan.leavers.size} killed a third of the way through, ${plan.corrupt.size} serving corrupted chunks, ${plan.late.size} joining a quarter of the way through`
          : null,
    };
  } finally {
    timers.forEach(clearTimeout);
    removeTargets();
    unregister();
  }
}

const freeBytes = (dir: string) => {
  const stats = statfsSync(dir);
  return stats.bavail * stats.bsize;
};

/**
 * Where a path's cards go: a folder of the temp dir when its disk holds `needed` bytes; otherwise (the raw path
 * writes every zero of every image: 20 × 2.6 GiB) a btrfs with zstd compression in a sparse loop file, where those
 * zeros take no room. A string says why neither is possible.
 */
function cardStore(tempDir: string, path: string, needed: number): { dir: string; note: string | null; remove: () => void } | string {
  const dir = join(tempDir, `cards-${path}`);
  const free = freeBytes(tempDir);
  if (free >= needed) return { dir, note: null, remove: () => rmSync(dir, { recursive: true, force: true }) };
  const why = `the cards need ${fmtGib(needed)} and ${fmtGib(free)} are free`;
  if (!readFileSync('/proc/filesystems', 'utf8').includes('btrfs')) return `${why} (and this kernel has no btrfs to compress them)`;
  if (!hasCommand('mkfs.btrfs')) spawnSync('apt-get', ['install', '-y', '-qq', 'btrfs-progs'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (!hasCommand('mkfs.btrfs')) return `${why} (and btrfs-progs is not installed)`;
  const file = join(tempDir, `cards-${path}.btrfs`);
  const remove = () => {
    spawnSync('umount', [dir], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
    rmSync(file, { force: true });
  };
  const forget = onCleanup(remove);
  try {
    writeFileSync(file, '');
    spawnSync('truncate', ['-s', String(Math.max(needed, 8 * GIB)), file]);
    for (const [command, ...args] of [['mkfs.btrfs', '-q', file], ['mkdir', '-p', dir], ['mount', '-o', 'loop,compress-force=zstd:1', file, dir]] as const) {
      const result = spawnSync(command, args, { encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`${command}: ${result.stderr.trim()}`);
    }
  } catch (error) {
    remove();
    forget();
    return `${why}, and a compressing btrfs could not be made (${(error as Error).message})`;
  }
  return {
    dir,
    note: `${why}: cards on a zstd-compressed btrfs in a loop file (the raw path's zeros take no room)`,
    remove: () => {
      remove();
      forget();
    },
  };
}

const fmtS = (s: number) => (Number.isFinite(s) ? `${s.toFixed(1)} s` : 'n/a');
const fmtMib = (bytes: number) => `${(bytes / MIB).toFixed(0)} MiB`;
const fmtGib = (bytes: number) => `${(bytes / GIB).toFixed(2)} GiB`;

export default async function benchFleetNetwork(): Promise<void> {
  const config = settings();
  const why = unavailable();
  if (why) {
    console.log(`  not run: ${why}`);
    return;
  }
  const flags = installerFlags(await installerNode((line) => console.log(`  ${line}`)));
  console.log(`  installers: Node ${spawnSync(flags.node, ['--version'], { encoding: 'utf8' }).stdout.trim()}${flags.node === process.execPath ? ' (this host\'s)' : ', as the network-booted installer runs'}`);
  const master = await piOsMaster(config.imageMib, (line) => console.log(`  ${line}`), config.master);
  const size = master.size;
  console.log(
    `  master: ${fmtGib(size)} Raspberry-Pi-OS-like image${master.cached ? ' (cached)' : ''}${config.master === 'small' ? ', small (no modules, firmware, docs, Python)' : ''}: MBR, ${fmtMib(master.bootBytes)} FAT32 boot, ` +
      `${fmtGib(master.rootBytes)} ext4 root with ${fmtGib(master.rootUsedBytes)} of arm64 Debian bookworm files`,
  );

  const temp = tempDir('fleet-network');
  const removeTemp = onCleanup(() => temp.remove());
  let network: ShapedNetwork | null = null;
  try {
    network = createShapedNetwork({ devices: config.devices, uplinkBitsPerSecond: config.uplinkBitsPerSecond, linkBitsPerSecond: config.linkBitsPerSecond, delayMs: config.delayMs });
    console.log(`  network: ${network.description}; ${config.devices} devices`);
    console.log(
      (config.sink ? '  cards: none, every installer hashes what it receives into a sink (delivery alone)' : `  cards: sparse ${(config.cardBytes / GIB).toFixed(0)} GiB files, `) +
        (config.sink ? '' : flags.cardWriteRate ? `written at most ${(config.cardBytesPerSecond / 1e6).toFixed(0)} MB/s (--card-write-rate)` : 'NOT capped: this installer has no --card-write-rate, so cards write at the host disk speed') +
        (flags.stale ? '; note: dist/agent/pitcrew-agent.mjs is older than src/agent (npm run build)' : ''),
    );
    console.log('  starting the server and registering the master (hash, block map, chunks)…');
    const server = await startServer(network, join(temp.dir, 'data'), master.path);
    const delivery = server.hello.image.delivery;
    const results: PathResult[] = [];
    try {
      const paths = config.paths.filter((path) => {
        if (path === 'raw') return true;
        if (!delivery) console.log(`  ${path}: not run, the server built no chunks for this image (image.delivery is null)`);
        else if (path === 'v2' && !flags.peers && !flags.rawOnly) console.log('  v2: not run, this installer has no v2 path');
        else if ((path === 'peers' || path === 'faults') && !flags.peers) console.log(`  ${path}: not run, this installer has no one-to-many delivery (no --no-peers option)`);
        else return true;
        return false;
      });
      for (const path of paths) {
        const devices = path === 'alone' ? 1 : config.devices;
        const mapped = path === 'raw' ? size : delivery!.mapped_bytes;
        const store = cardStore(temp.dir, path, config.sink ? 0 : devices * mapped * 1.05);
        if (typeof store === 'string') {
          console.log(`  ${path}: not run, ${store}`);
          continue;
        }
        if (store.note) console.log(`  ${path}: ${store.note}`);
        const limit = physicalLimit(path, config, size, delivery);
        const alone = results.find((r) => r.path === 'alone')?.makespanS;
        const aloneS = alone && Number.isFinite(alone) ? alone : delivery ? delivery.mapped_bytes / config.cardBytesPerSecond : limit;
        console.log(`  ${path}: ${devices} device${devices === 1 ? '' : 's'} (physical limit ${limit.toFixed(0)} s)…`);
        let result: PathResult;
        try {
          // Bounded, with room for a host whose cores the installers share: a few seconds each.
          result = await runPath(path, network, server.hello, store.dir, config, flags, aloneS, Math.round(Math.max(limit, aloneS) * 4 + 180 + devices * 4));
        } finally {
          store.remove();
        }
        results.push(result);
        console.log(`  ${path}: installed in ${fmtS(result.makespanS)}; the installers took: ${result.deliveries}${result.faults ? `; faults: ${result.faults}` : ''}`);
        if (result.failures.length) console.log(`  ${path}: ${result.completed} of ${result.expected} completed; ${result.failures.slice(0, 3).join('\n    ')}`);
      }
    } finally {
      await server.stop();
    }
    printResults(config, size, delivery, results);
  } finally {
    network?.teardown();
    temp.remove();
    removeTemp();
  }
}

/**
 * The fastest a path could be: what the server must send through its uplink, or the mapped bytes through one card,
 * whichever takes longer. One-to-many: the server sends the compressed image once; the devices' own links carry
 * the rest, each device receiving the image once (N × compressed over N links).
 */
function physicalLimit(path: PathName, config: Settings, size: number, delivery: DeliveryFigures | null): number {
  const uplink = config.uplinkBitsPerSecond / 8;
  const link = config.linkBitsPerSecond / 8;
  const cardRate = config.sink ? Infinity : config.cardBytesPerSecond;
  if (path === 'raw') return Math.max((config.devices * size) / uplink, size / cardRate);
  if (!delivery) return NaN;
  const card = delivery.mapped_bytes / cardRate;
  if (path === 'v2') return Math.max((config.devices * delivery.compressed_bytes) / uplink, card);
  return Math.max(delivery.compressed_bytes / uplink, delivery.compressed_bytes / link, card);
}

function printResults(config: Settings, size: number, delivery: DeliveryFigures | null, results: PathResult[]): void {
  if (delivery) {
    console.log(
      `  v2 delivery (${delivery.block_map} map): ${fmtGib(delivery.mapped_bytes)} mapped (${((delivery.mapped_bytes / size) * 100).toFixed(0)} %), ` +
        `${fmtGib(delivery.compressed_bytes)} on the wire per device in ${delivery.chunk_count} chunks (${(size / delivery.compressed_bytes).toFixed(1)}× less than raw)`,
    );
  } else {
    console.log('  v2 delivery: n/a (the image record has no block map or chunks)');
  }
  if (results.length === 0) return;
  const cores = cpus().length;
  const alone = results.find((r) => r.path === 'alone');
  const compressed = delivery?.compressed_bytes ?? NaN;
  const limitOf = (r: PathResult) => physicalLimit(r.path, { ...config, devices: r.devices }, size, delivery);
  const floorOf = (r: PathResult) => (r.devicesCpuS + r.serverCpuS) / cores;
  const rows: Array<[string, (r: PathResult) => string]> = [
    ['devices (expected to finish)', (r) => `${r.devices} (${r.expected})`],
    ['completed', (r) => `${r.completed}`],
    ['makespan', (r) => fmtS(r.makespanS)],
    ['makespan ÷ one device alone', (r) => ratioText(r.makespanS / (alone?.makespanS ?? NaN))],
    ['median device installed after', (r) => fmtS(r.medianS)],
    ['90 % of devices installed after', (r) => fmtS(r.p90S)],
    ['physical limit', (r) => fmtS(limitOf(r))],
    ['makespan ÷ physical limit', (r) => ratioText(r.makespanS / limitOf(r))],
    ['server egress (eth0 tx bytes)', (r) => fmtGib(r.egressBytes)],
    ['server egress ÷ compressed image', (r) => ratioText(r.egressBytes / compressed)],
    ['chunk bytes from peers', (r) => (r.receivedBytes > 0 ? `${((r.peerBytes / r.receivedBytes) * 100).toFixed(0)} %` : 'n/a')],
    ['server CPU per GiB of image installed', (r) => `${(r.serverCpuS / ((r.expected * size) / GIB)).toFixed(3)} s`],
    ['installer CPU per device', (r) => fmtS(r.devicesCpuS / r.devices)],
    [`host CPU floor (all CPU ÷ ${cores} cores)`, (r) => fmtS(floorOf(r))],
    ['host idle share during the run', (r) => `${(r.idleShare * 100).toFixed(0)} %`],
    ['server peak RSS', (r) => fmtMib(r.serverPeakRss)],
    ['device peak RSS (largest)', (r) => fmtMib(r.devicePeakRss)],
  ];
  console.log(`  ${''.padEnd(40)} ${results.map((r) => r.path.padStart(12)).join(' ')}`);
  for (const [label, cell] of rows) console.log(`  ${label.padEnd(40)} ${results.map((r) => cell(r).padStart(12)).join(' ')}`);
  for (const r of results) {
    if (floorOf(r) > limitOf(r)) {
      console.log(
        `  note: ${r.path}: the CPU bounds this run, not the network or the cards: the installers share this host's ${cores} cores (each Pi has 4 of its own) ` +
          `and need ${fmtS(floorOf(r))} of them, more than the physical limit of ${fmtS(limitOf(r))}; the host was ${(r.idleShare * 100).toFixed(0)} % idle`,
      );
    }
  }
  const check = (ok: boolean | null) => (ok === null ? 'n/a' : ok ? 'met' : 'NOT met');
  const peers = results.find((r) => r.path === 'peers');
  const faults = results.find((r) => r.path === 'faults');
  const v2 = results.find((r) => r.path === 'v2');
  const fleetBound = config.devices > 20 ? 1.5 : 1.2;
  console.log(
    `  targets: one-to-many makespan ≤ ${fleetBound}× one device alone: ${check(peers && alone ? peers.makespanS <= fleetBound * alone.makespanS : null)}; ` +
      `server egress ≤ 3× the compressed image: ${check(peers ? peers.egressBytes <= 3 * compressed : null)}; ` +
      `server CPU ≤ unicast v2: ${check(peers && v2 ? peers.serverCpuS <= v2.serverCpuS : null)}; ` +
      `with faults, every other device installed: ${check(faults ? faults.completed === faults.expected : null)}, ` +
      `makespan ≤ 1.5× fault-free: ${check(faults && peers ? faults.makespanS <= 1.5 * peers.makespanS : null)}`,
  );
}

const ratioText = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)}×` : 'n/a');

if (process.argv.includes('--serve')) await serve();
else if (process.argv[1] === fileURLToPath(import.meta.url)) await benchFleetNetwork();

// Fleet benchmark on a shaped network: the real server in a "server" network namespace behind a 1 Gbit/s uplink,
// 20 devices each in a namespace of its own on a 1 Gbit/s link, all joined by a bridge (bench/shaped-network.ts);
// each device runs the real installer bundle (dist/agent/pitcrew-agent.mjs) onto a sparse 32 GB file standing in
// for its card, written no faster than a card (40 MB/s). The master is Raspberry-Pi-OS-like, ~2.6 GiB, with a real
// arm64 Debian root filesystem (bench/pi-os-master.ts, cached). Today's raw unicast path and image delivery v2
// (block map and zstd chunks) run in turn on the same server, image and network; each is printed with its
// makespan, the server's egress per device ÷ the raw size, link utilisation, server CPU per GiB delivered, peak
// RSS of the server and of the devices, and the physical limit max(devices × bytes on the wire ÷ uplink,
// mapped bytes ÷ card rate). The installers' CPU is summed too: here twenty of them share the host's cores, where
// each Pi has four of its own, so the host's CPU can bound a run before the link or the cards do (it says so).
// Cards live in the temp dir; where its disk cannot hold them all (the raw path writes 20 × 2.6 GiB, zeros
// included) they go on a zstd-compressed btrfs in a loop file, removed afterwards.
// Needs root, network namespaces and tc (says why and returns otherwise). Sizes:
//   PITCREW_BENCH_FLEET_DEVICES (20), PITCREW_BENCH_FLEET_IMAGE_MIB (2662, 2.6 GiB), PITCREW_BENCH_FLEET_CARD_MBPS
//   (40, MB/s written to each card), PITCREW_BENCH_FLEET_LINK_MBIT (1000, each device), PITCREW_BENCH_FLEET_UPLINK_MBIT
//   (1000, the server), PITCREW_BENCH_FLEET_DELAY_MS (0.1 one-way at each end, where the kernel has netem),
//   PITCREW_BENCH_FLEET_CARD_GIB (32, sparse), PITCREW_BENCH_FLEET_PATHS (raw,v2), PITCREW_BENCH_CACHE (data/bench-cache).
// Small configuration while developing: PITCREW_BENCH_FLEET_DEVICES=4 PITCREW_BENCH_FLEET_IMAGE_MIB=1600.
// Run as `node --import tsx bench/fleet-network.bench.ts --serve '{…}'` this file is that server.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, truncate, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { piOsMaster, prepareMasterTools, benchCacheDir, rootfsTarName } from './pi-os-master.js';
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

interface Settings {
  devices: number;
  imageMib: number;
  cardBytesPerSecond: number;
  linkBitsPerSecond: number;
  uplinkBitsPerSecond: number;
  delayMs: number;
  cardBytes: number;
  paths: Array<'raw' | 'v2'>;
}

function settings(): Settings {
  const delay = Number(process.env.PITCREW_BENCH_FLEET_DELAY_MS ?? 0.1);
  return {
    devices: Math.round(envNumber('PITCREW_BENCH_FLEET_DEVICES', 20)),
    imageMib: Math.round(envNumber('PITCREW_BENCH_FLEET_IMAGE_MIB', 2662)),
    cardBytesPerSecond: envNumber('PITCREW_BENCH_FLEET_CARD_MBPS', 40) * 1e6,
    linkBitsPerSecond: envNumber('PITCREW_BENCH_FLEET_LINK_MBIT', 1000) * 1e6,
    uplinkBitsPerSecond: envNumber('PITCREW_BENCH_FLEET_UPLINK_MBIT', 1000) * 1e6,
    delayMs: Number.isFinite(delay) && delay >= 0 ? delay : 0.1,
    cardBytes: envNumber('PITCREW_BENCH_FLEET_CARD_GIB', 32) * GIB,
    paths: (process.env.PITCREW_BENCH_FLEET_PATHS ?? 'raw,v2').split(',').map((p) => p.trim()).filter((p): p is 'raw' | 'v2' => p === 'raw' || p === 'v2'),
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
  stale: boolean;
}
function installerFlags(node: string): InstallerFlags {
  const help = spawnSync(node, [agentBundle, '--help'], { encoding: 'utf8' }).stdout ?? '';
  const bundleTime = statSync(agentBundle).mtimeMs;
  const agentDir = join(repoRoot, 'src/agent');
  const stale = readdirSync(agentDir).some((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && statSync(join(agentDir, f)).mtimeMs > bundleTime);
  const rawOnly = help.includes('--no-chunks') ? ['--no-chunks'] : help.includes('--delivery') ? ['--delivery', 'raw'] : null;
  return { node, cardWriteRate: help.includes('--card-write-rate'), rawOnly, stale };
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
  const [line] = (await Promise.race([once(createInterface({ input: child.stdout! }), 'line'), exited, timeout])) as [string];
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
  path: 'raw' | 'v2';
  completed: number;
  failures: string[];
  makespanS: number;
  egressBytes: number;
  serverCpuS: number;
  serverPeakRss: number;
  devicePeakRss: number;
  /** CPU of all installers together, s (sampled every 200 ms: the last moments of each are missed). */
  devicesCpuS: number;
  /** What the installers said they took, e.g. "chunks ×20". */
  deliveries: string;
}

interface DeviceRun {
  child: ChildProcess;
  firstAskMs: number | null;
  doneMs: number | null;
  peakRss: number;
  /** utime + stime at the last sample, s. */
  cpuS: number;
  /** What the installer said it took (its `delivery` log field), if it said. */
  delivery: string | null;
  tail: string[];
  exitCode: number | null;
}

async function runPath(
  path: 'raw' | 'v2',
  network: ShapedNetwork,
  server: ServerHello,
  targetsDir: string,
  config: Settings,
  flags: InstallerFlags,
  timeoutS: number,
): Promise<PathResult> {
  await mkdir(targetsDir, { recursive: true });
  // The cards, not the folder: it may be a mount point.
  const removeTargets = () => readdirSync(targetsDir).forEach((file) => rmSync(join(targetsDir, file), { force: true }));
  const unregister = onCleanup(removeTargets);
  try {
    const egressBefore = network.txBytes(network.server.ns);
    const cpuBefore = cpuSeconds(server.pid);
    resetPeakRss(server.pid);
    const runs: DeviceRun[] = [];
    for (const [i, device] of network.devices.entries()) {
      const target = join(targetsDir, `card-${i + 1}.img`);
      await writeFile(target, '');
      await truncate(target, config.cardBytes); // sparse: a 32 GB card, blank
      const args = [
        agentBundle,
        '--server', server.device,
        '--target', target,
        '--product-type', 'KXP2',
        '--venue', 'BNCH',
        '--serial', `${path}${String(i + 1).padStart(6, '0')}`,
        '--mac', `02:42:${path === 'raw' ? '00' : '01'}:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`,
        '--model', 'Raspberry Pi 4 Model B Rev 1.5',
        '--no-reboot',
        '--json',
        ...(flags.cardWriteRate ? ['--card-write-rate', String(Math.round(config.cardBytesPerSecond))] : []),
        ...(path === 'raw' && flags.rawOnly ? flags.rawOnly : []),
      ];
      // `ip netns exec` execs the command: the child's pid is the installer's node process.
      const child = spawn('ip', ['netns', 'exec', device.ns, flags.node, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      const run: DeviceRun = { child, firstAskMs: null, doneMs: null, peakRss: 0, cpuS: 0, delivery: null, tail: [], exitCode: null };
      createInterface({ input: child.stdout! }).on('line', (line) => {
        try {
          const entry = JSON.parse(line) as { time: string; msg: string; phase?: string; delivery?: unknown };
          if (entry.phase === 'config' && run.firstAskMs === null) run.firstAskMs = Date.parse(entry.time);
          if (entry.delivery !== undefined) run.delivery = typeof entry.delivery === 'string' ? entry.delivery : JSON.stringify(entry.delivery);
          if (entry.msg.startsWith('done in')) run.doneMs = Date.parse(entry.time);
        } catch {
          // Not a log line.
        }
      });
      createInterface({ input: child.stderr! }).on('line', (line) => {
        run.tail.push(line);
        if (run.tail.length > 5) run.tail.shift();
      });
      child.on('exit', (code) => (run.exitCode = code ?? 1));
      runs.push(run);
    }
    const sample = () => {
      for (const run of runs) {
        if (run.exitCode !== null || run.child.pid === undefined) continue;
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
      for (const run of runs) if (run.exitCode === null) run.child.kill('SIGTERM');
      setTimeout(() => runs.forEach((run) => run.exitCode === null && run.child.kill('SIGKILL')), 10_000).unref();
    }, timeoutS * 1000);
    try {
      await Promise.all(runs.map((run) => (run.exitCode !== null ? undefined : once(run.child, 'exit'))));
    } finally {
      clearInterval(sampler);
      clearTimeout(deadline);
    }
    const failures = runs.flatMap((run, i) =>
      run.exitCode === 0 && run.doneMs !== null ? [] : [`device ${i + 1}: exit ${run.exitCode}${run.exitCode === null || run.exitCode > 128 ? ` (stopped after ${timeoutS} s)` : ''}: ${run.tail.join(' | ') || 'no output'}`],
    );
    const asked = runs.map((run) => run.firstAskMs).filter((t): t is number => t !== null);
    const done = runs.map((run) => run.doneMs).filter((t): t is number => t !== null);
    return {
      path,
      completed: done.length,
      failures,
      makespanS: asked.length && done.length ? (Math.max(...done) - Math.min(...asked)) / 1000 : NaN,
      egressBytes: network.txBytes(network.server.ns) - egressBefore,
      serverCpuS: cpuSeconds(server.pid) - cpuBefore,
      serverPeakRss: peakRssBytes(server.pid),
      devicePeakRss: Math.max(0, ...runs.map((run) => run.peakRss)),
      devicesCpuS: runs.reduce((sum, run) => sum + run.cpuS, 0),
      deliveries: [...new Set(runs.map((run) => run.delivery ?? 'not said'))].map((d) => `${d} ×${runs.filter((run) => (run.delivery ?? 'not said') === d).length}`).join(', '),
    };
  } finally {
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
  const master = await piOsMaster(config.imageMib, (line) => console.log(`  ${line}`));
  const size = master.size;
  console.log(
    `  master: ${fmtGib(size)} Raspberry-Pi-OS-like image${master.cached ? ' (cached)' : ''}: MBR, ${fmtMib(master.bootBytes)} FAT32 boot, ` +
      `${fmtGib(master.rootBytes)} ext4 root with ${fmtGib(master.rootUsedBytes)} of arm64 Debian bookworm files`,
  );

  const temp = tempDir('fleet-network');
  const removeTemp = onCleanup(() => temp.remove());
  let network: ShapedNetwork | null = null;
  try {
    network = createShapedNetwork({ devices: config.devices, uplinkBitsPerSecond: config.uplinkBitsPerSecond, linkBitsPerSecond: config.linkBitsPerSecond, delayMs: config.delayMs });
    console.log(`  network: ${network.description}; ${config.devices} devices`);
    console.log(
      `  cards: sparse ${(config.cardBytes / GIB).toFixed(0)} GiB files, ` +
        (flags.cardWriteRate ? `written at most ${(config.cardBytesPerSecond / 1e6).toFixed(0)} MB/s (--card-write-rate)` : 'NOT capped: this installer has no --card-write-rate, so cards write at the host disk speed') +
        (flags.stale ? '; note: dist/agent/pitcrew-agent.mjs is older than src/agent (npm run build)' : ''),
    );
    console.log('  starting the server and registering the master (hash, block map, chunks)…');
    const server = await startServer(network, join(temp.dir, 'data'), master.path);
    const delivery = server.hello.image.delivery;
    const results: PathResult[] = [];
    try {
      // An installer without a way to refuse chunks has no v2 path either: it takes the raw path whatever is offered.
      const paths = config.paths.filter((path) => {
        if (path !== 'v2') return true;
        if (!delivery) console.log('  v2: not run, the server built no chunks for this image (image.delivery is null)');
        else if (!flags.rawOnly) console.log('  v2: not run, this installer has no v2 path (no --no-chunks option)');
        return delivery !== null && flags.rawOnly !== null;
      });
      for (const path of paths) {
        const needed = config.devices * (path === 'raw' ? size : delivery!.mapped_bytes) * 1.05;
        const store = cardStore(temp.dir, path, needed);
        if (typeof store === 'string') {
          console.log(`  ${path}: not run, ${store}`);
          continue;
        }
        if (store.note) console.log(`  ${path}: ${store.note}`);
        const wire = path === 'raw' ? size : delivery!.compressed_bytes;
        const mapped = path === 'raw' ? size : delivery!.mapped_bytes;
        const expected = Math.max((config.devices * wire * 8) / config.uplinkBitsPerSecond, mapped / config.cardBytesPerSecond);
        console.log(`  ${path}: ${config.devices} devices at once (physical limit ${expected.toFixed(0)} s)…`);
        let result: PathResult;
        try {
          result = await runPath(path, network, server.hello, store.dir, config, flags, Math.round(expected * 4 + 180));
        } finally {
          store.remove();
        }
        results.push(result);
        console.log(`  ${path}: done in ${fmtS(result.makespanS)}; the installers took: ${result.deliveries}`);
        if (result.failures.length) console.log(`  ${path}: ${result.completed} of ${config.devices} completed; ${result.failures.slice(0, 3).join('\n    ')}`);
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

function printResults(config: Settings, size: number, delivery: DeliveryFigures | null, results: PathResult[]): void {
  const raw = results.find((r) => r.path === 'raw');
  const v2 = results.find((r) => r.path === 'v2');
  const uplinkBytesPerS = config.uplinkBitsPerSecond / 8;
  const limitOf = (wire: number, mapped: number) => Math.max((config.devices * wire) / uplinkBytesPerS, mapped / config.cardBytesPerSecond);
  const limits = { raw: limitOf(size, size), v2: delivery ? limitOf(delivery.compressed_bytes, delivery.mapped_bytes) : NaN };
  if (delivery) {
    console.log(
      `  v2 delivery (${delivery.block_map} map): ${fmtGib(delivery.mapped_bytes)} mapped (${((delivery.mapped_bytes / size) * 100).toFixed(0)} %), ` +
        `${fmtGib(delivery.compressed_bytes)} on the wire per device in ${delivery.chunk_count} chunks (${(size / delivery.compressed_bytes).toFixed(1)}× less than raw)`,
    );
  } else {
    console.log('  v2 delivery: n/a (the image record has no block map or chunks)');
  }
  type Cell = (r: PathResult, limit: number) => number;
  const lines: Array<[string, Cell, (n: number) => string]> = [
    ['makespan', (r) => r.makespanS, fmtS],
    ['physical limit', (_, limit) => limit, fmtS],
    ['makespan ÷ physical limit', (r, limit) => r.makespanS / limit, (n) => `${n.toFixed(2)}×`],
    ['server egress (eth0 tx bytes)', (r) => r.egressBytes, fmtGib],
    ['server egress per device ÷ raw size', (r) => r.egressBytes / config.devices / size, (n) => n.toFixed(3)],
    ['link utilisation (egress ÷ uplink × makespan)', (r) => r.egressBytes / (uplinkBytesPerS * r.makespanS), (n) => `${(n * 100).toFixed(0)} %`],
    ['server CPU per GiB of image installed', (r) => r.serverCpuS / ((config.devices * size) / GIB), (n) => `${n.toFixed(3)} s`],
    ['server peak RSS', (r) => r.serverPeakRss, fmtMib],
    ['installers\' CPU, all devices together', (r) => r.devicesCpuS, fmtS],
    [`host CPU floor (installers + server ÷ ${cpus().length} cores)`, (r) => (r.devicesCpuS + r.serverCpuS) / cpus().length, fmtS],
    ['device peak RSS (largest)', (r) => r.devicePeakRss, fmtMib],
  ];
  const cell = (r: PathResult | undefined, f: Cell, limit: number, format: (n: number) => string) => (r ? format(f(r, limit)) : 'n/a');
  console.log(`  ${''.padEnd(46)} ${'raw unicast'.padStart(12)} ${'v2'.padStart(12)} ${'v2 ÷ raw'.padStart(10)}`);
  for (const [label, f, format] of lines) {
    const ratio = raw && v2 ? f(v2, limits.v2) / f(raw, limits.raw) : NaN;
    console.log(`  ${label.padEnd(46)} ${cell(raw, f, limits.raw, format).padStart(12)} ${cell(v2, f, limits.v2, format).padStart(12)} ${(Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : 'n/a').padStart(10)}`);
  }
  for (const r of results) {
    const floor = (r.devicesCpuS + r.serverCpuS) / cpus().length;
    const limit = r.path === 'raw' ? limits.raw : limits.v2;
    if (floor > limit) {
      console.log(`  note: ${r.path}: the installers share this host's ${cpus().length} cores (each Pi has 4 of its own); their CPU alone needs ${fmtS(floor)} here, more than the physical limit`);
    }
  }
  const check = (ok: boolean | null) => (ok === null ? 'n/a' : ok ? 'met' : 'NOT met');
  const incomplete = results.filter((r) => r.completed < config.devices).map((r) => `${r.path}: ${r.completed} of ${config.devices} devices completed`);
  if (incomplete.length) console.log(`  incomplete: ${incomplete.join('; ')}`);
  console.log(
    `  targets: v2 makespan ≤ 0.35× raw: ${check(raw && v2 ? v2.makespanS <= 0.35 * raw.makespanS : null)}; ` +
      `≤ 1.3× physical limit: ${check(v2 ? v2.makespanS <= 1.3 * limits.v2 : null)}; ` +
      `server CPU per GiB ≤ raw: ${check(raw && v2 ? v2.serverCpuS <= raw.serverCpuS : null)}`,
  );
}

if (process.argv.includes('--serve')) await serve();
else if (process.argv[1] === fileURLToPath(import.meta.url)) await benchFleetNetwork();

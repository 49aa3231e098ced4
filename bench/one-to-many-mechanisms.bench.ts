// One file to many devices at once, on the fleet benchmark's shaped network (bench/shaped-network.ts: a server
// namespace behind a 1 Gbit/s uplink, N device namespaces on 1 Gbit/s links, one bridge): how fast two field-proven
// one-to-many mechanisms get ONE file onto every device, and what they cost the server's uplink and the CPU, beside
// plain HTTP unicast. The file (random bytes) stands in for an image's compressed chunk store: 272 MiB is about the
// zstd chunks of the fleet benchmark's 2.6 GiB Pi-OS-like master. In turn, on the same network:
//   http             every device downloads the file with curl from a Node file server (the uplink carries N copies);
//   torrent-webseed  aria2c on every device; the server is only a tracker and a BEP 19 web seed (bench/tracker-server.ts);
//   torrent-seeder   the same without web seed: one aria2c in the server namespace is the initial seeder;
//   multicast        udpcast: udp-sender in the server namespace, udp-receiver on every device; then twice more with one
//                    receiver started after the transfer began (a late joiner), plainly and with --streaming.
// Each prints its makespan (first process started → last device holding the whole file) beside the physical limit
// (file ÷ link rate; N × file ÷ uplink for unicast), the server's egress ÷ file size, for the torrents what the server
// and the devices sent by aria2's own counts, the CPU of all the mechanism's processes (exact: this process's
// children's times in /proc/self/stat) and how busy the host's CPUs were meanwhile, whoever used them (the host's
// cores run every device at once), and how many devices' copies have the file's SHA-256.
// Needs root, network namespaces and tc, and the Debian packages aria2, udpcast and curl (installed when missing);
// says why and returns otherwise. Sizes: PITCREW_BENCH_M2M_DEVICES (20), PITCREW_BENCH_M2M_FILE_MIB (272),
// PITCREW_BENCH_M2M_MECHANISMS (http,torrent-webseed,torrent-seeder,multicast), PITCREW_BENCH_M2M_PIECE_KIB (1024, the
// torrent's piece length), PITCREW_BENCH_M2M_MCAST_MBIT (900, udp-sender --max-bitrate).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { constants, cpus, loadavg } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createShapedNetwork, onCleanup, shapedNetworkUnavailable, type Endpoint, type ShapedNetwork } from './shaped-network.js';
import { makeTorrent, startTrackerServer, type TrackerServer } from './tracker-server.js';
import { envNumber, hasCommand, tempDir, writeRandomFile } from './support.js';

const MIB = 1 << 20;
const GIB = 1 << 30;
const TRACKER_PORT = 6969;
/** Announce interval the tracker gives, s. */
const ANNOUNCE_INTERVAL = 5;
/**
 * udp-sender's tuning: below the link rate; multicast even for a single receiver; a hello every 100 ms while it
 * waits (it otherwise starts only after 2 s without a new receiver); slices of 1024 blocks, not 112 (in full-duplex
 * mode the slice size stays fixed, and each slice waits for every receiver's acknowledgement).
 */
const UDP_SENDER_FLAGS = (ctx: Context) => ['--max-bitrate', `${ctx.config.multicastMbit}m`, '--nopointopoint', '--rexmit-hello-interval', '100', '--default-slice-size', '1024'];
/** How long after the transfer began the late joiner starts, ms. */
const LATE_JOIN_MS = 1000;

const MECHANISMS = ['http', 'torrent-webseed', 'torrent-seeder', 'multicast'] as const;
type Mechanism = (typeof MECHANISMS)[number];
const LABELS: Record<Mechanism, string> = { http: 'http unicast', 'torrent-webseed': 'bt web seed', 'torrent-seeder': 'bt seeder', multicast: 'multicast' };
/** The Debian package and program each mechanism needs. */
const NEEDS: Record<Mechanism, Array<[program: string, pkg: string]>> = {
  http: [['curl', 'curl']],
  'torrent-webseed': [['aria2c', 'aria2']],
  'torrent-seeder': [['aria2c', 'aria2']],
  multicast: [['udp-sender', 'udpcast'], ['udp-receiver', 'udpcast']],
};

interface Settings {
  devices: number;
  fileMib: number;
  mechanisms: Mechanism[];
  pieceBytes: number;
  multicastMbit: number;
  linkBitsPerSecond: number;
  uplinkBitsPerSecond: number;
}

function settings(): Settings {
  const asked = (process.env.PITCREW_BENCH_M2M_MECHANISMS ?? MECHANISMS.join(',')).split(',').map((m) => m.trim()).filter(Boolean);
  for (const name of asked) if (!(MECHANISMS as readonly string[]).includes(name)) console.log(`  ignored: unknown mechanism ${name} (known: ${MECHANISMS.join(', ')})`);
  return {
    devices: Math.max(2, Math.round(envNumber('PITCREW_BENCH_M2M_DEVICES', 20))),
    fileMib: Math.round(envNumber('PITCREW_BENCH_M2M_FILE_MIB', 272)),
    mechanisms: MECHANISMS.filter((m) => asked.includes(m)),
    pieceBytes: Math.round(envNumber('PITCREW_BENCH_M2M_PIECE_KIB', 1024)) * 1024,
    multicastMbit: envNumber('PITCREW_BENCH_M2M_MCAST_MBIT', 900),
    linkBitsPerSecond: 1e9,
    uplinkBitsPerSecond: 1e9,
  };
}

/** Installs the Debian packages of the missing programs (as root); answers each mechanism's reason not to run. */
function missingTools(mechanisms: Mechanism[]): Map<Mechanism, string> {
  const missingPackages = () => [...new Set(mechanisms.flatMap((m) => NEEDS[m].filter(([program]) => !hasCommand(program)).map(([, pkg]) => pkg)))];
  const packages = missingPackages();
  if (packages.length > 0 && process.getuid?.() === 0 && hasCommand('apt-get')) {
    console.log(`  installing ${packages.join(' ')} (apt-get)`);
    spawnSync('apt-get', ['install', '-y', '-qq', ...packages], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  const reasons = new Map<Mechanism, string>();
  for (const mechanism of mechanisms) {
    const missing = NEEDS[mechanism].filter(([program]) => !hasCommand(program));
    if (missing.length > 0) reasons.set(mechanism, `${missing.map(([program]) => program).join(', ')} missing (Debian package ${[...new Set(missing.map(([, pkg]) => pkg))].join(', ')}, not installable here)`);
  }
  return reasons;
}

// /proc readings (the benchmark runs in the same PID namespace as every namespace's processes).
const statFields = (pid: number | 'self') => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
/** utime and stime of a process, s (USER_HZ is 100 on Linux). */
const cpuTimes = (pid: number) => {
  const fields = statFields(pid);
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
};
/** cutime + cstime of this process: the whole CPU of every child it has reaped, and of theirs. */
const reapedChildrenCpuSeconds = () => {
  const fields = statFields('self');
  return (Number(fields[13]) + Number(fields[14])) / 100;
};
/** The host's CPU time so far, all CPUs, in USER_HZ ticks: busy (user, nice, system, irq, softirq), steal, and all. */
function hostCpu(): { atMs: number; busy: number; steal: number; total: number } {
  const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const busy = user! + nice! + system! + irq! + softirq!;
  return { atMs: Date.now(), busy, steal: steal!, total: busy + idle! + iowait! + steal! };
}

interface Proc {
  child: ChildProcess;
  /** A process of the server namespace (its CPU is also shown alone). */
  server: boolean;
  exitedMs: number | null;
  /** Exit code, or 128 + signal number. */
  exitCode: number | null;
  /** The end of its output, for a failure's report. */
  output: string;
  /** utime and stime at its last reading, s (server processes only, read every 100 ms and before they are stopped). */
  cpu: { user: number; system: number };
}

/** The processes of one mechanism's run: started in namespaces, watched, stopped; all killed on Ctrl-C. */
class Processes {
  readonly all: Proc[] = [];
  private readonly sampler = setInterval(() => this.sample(), 100);
  private readonly forget = onCleanup(() => this.all.forEach((proc) => proc.exitCode === null && proc.child.kill('SIGKILL')));

  start(ns: string, command: string, args: string[], options: { server?: boolean; onOutput?: (text: string) => void } = {}): Proc {
    // `ip netns exec` execs the command: the child's pid is the program's own.
    const child = spawn('ip', ['netns', 'exec', ns, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const proc: Proc = { child, server: options.server ?? false, exitedMs: null, exitCode: null, output: '', cpu: { user: 0, system: 0 } };
    const take = (chunk: Buffer) => {
      const text = chunk.toString();
      proc.output = (proc.output + text).slice(-2000);
      options.onOutput?.(text);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('exit', (code, signal) => {
      proc.exitedMs = Date.now();
      proc.exitCode = code ?? 128 + (signal ? constants.signals[signal] : 0);
    });
    this.all.push(proc);
    return proc;
  }

  sample(): void {
    for (const proc of this.all) {
      if (!proc.server || proc.exitCode !== null || proc.child.pid === undefined) continue;
      try {
        proc.cpu = cpuTimes(proc.child.pid);
      } catch {
        // Exited between the check and the read.
      }
    }
  }

  /** Resolves when every one of `procs` has exited, or at `deadlineMs` (then false). */
  async exited(procs: Proc[], deadlineMs: number): Promise<boolean> {
    const pending = procs.filter((proc) => proc.exitCode === null);
    if (pending.length === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, deadlineMs - Date.now()))));
    const all = Promise.all(pending.filter((proc) => proc.exitCode === null).map((proc) => once(proc.child, 'exit'))).then(() => true as const);
    try {
      return await Promise.race([all, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM (aria2 then says goodbye to the tracker and logs its share ratio), SIGKILL after `graceMs`. */
  async stop(procs: Proc[] = this.all, graceMs = 5000): Promise<void> {
    this.sample();
    const running = procs.filter((proc) => proc.exitCode === null);
    running.forEach((proc) => proc.child.kill('SIGTERM'));
    if (!(await this.exited(running, Date.now() + graceMs))) {
      running.forEach((proc) => proc.exitCode === null && proc.child.kill('SIGKILL'));
      await this.exited(running, Date.now() + 5000);
    }
  }

  async finish(): Promise<void> {
    await this.stop();
    clearInterval(this.sampler);
    this.forget();
  }

  /** CPU of the server namespace's processes: user and system time, s. */
  get serverCpu(): { user: number; system: number } {
    const server = this.all.filter((proc) => proc.server);
    return { user: server.reduce((sum, proc) => sum + proc.cpu.user, 0), system: server.reduce((sum, proc) => sum + proc.cpu.system, 0) };
  }
}

interface Result {
  mechanism: Mechanism;
  devices: number;
  completed: number;
  /** Copies whose SHA-256 is the file's. */
  intact: number;
  makespanS: number;
  limitS: number;
  egressBytes: number;
  /** Seconds from the first start to each device's completion, sorted. */
  doneS: number[];
  /** Host CPU of every process of the mechanism (the server's process start-up excluded), s. */
  cpuS: number;
  /** How busy the host's CPUs were from the first start to the last completion, whoever used them; and steal. */
  hostBusy: number;
  hostSteal: number;
  /** The server namespace's processes (tracker server, seeder, udp-sender): user and system time, s. */
  serverCpu: { user: number; system: number };
  /** Torrents: what the server sent (its seeder's count, or the bytes its web seed wrote into its connections), what the
   *  devices uploaded to each other and what they downloaded in all, by aria2's counts; null where unknown. */
  torrent: TorrentBytes | null;
  notes: string[];
  failures: string[];
}

interface TorrentBytes {
  server: number | null;
  devicesUploaded: number | null;
  devicesDownloaded: number | null;
}

interface Context {
  config: Settings;
  network: ShapedNetwork;
  file: string;
  fileBytes: number;
  fileSha256: string;
  workDir: string;
}

const deviceDir = (ctx: Context, i: number) => join(ctx.workDir, `device-${i + 1}`);
const deviceFile = (ctx: Context, i: number) => join(deviceDir(ctx, i), basename(ctx.file));
const linkLimitS = (ctx: Context) => (ctx.fileBytes * 8) / ctx.config.linkBitsPerSecond;
const unicastLimitS = (ctx: Context) => Math.max(linkLimitS(ctx), (ctx.config.devices * ctx.fileBytes * 8) / ctx.config.uplinkBitsPerSecond);
/** Every run is stopped by then: four times the unicast limit and a minute. */
const deadlineFrom = (ctx: Context, startMs: number) => startMs + (60 + 4 * unicastLimitS(ctx)) * 1000;

async function sha256Of(path: string): Promise<string | null> {
  if (!existsSync(path)) return null;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * MIB })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** How many of the devices' copies have the file's hash; the copies are removed afterwards. */
async function intactCopies(ctx: Context, devices: number[]): Promise<number> {
  let intact = 0;
  for (const i of devices) {
    if ((await sha256Of(deviceFile(ctx, i))) === ctx.fileSha256) intact++;
    rmSync(deviceDir(ctx, i), { recursive: true, force: true });
  }
  return intact;
}

function prepareDeviceDirs(ctx: Context): void {
  for (let i = 0; i < ctx.config.devices; i++) {
    rmSync(deviceDir(ctx, i), { recursive: true, force: true });
    mkdirSync(deviceDir(ctx, i), { recursive: true });
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const tail = (text: string) => text.replace(/\s+/g, ' ').trim().slice(-200) || 'no output';

/**
 * What the measurements of one run share: egress and children's CPU around it, the tracker server's start-up CPU
 * left out, the copies hashed afterwards. `body` starts the processes and answers when each device completed.
 */
async function measure(
  ctx: Context,
  mechanism: Mechanism,
  server: TrackerServer | null,
  body: (procs: Processes, deadlineMs: number) => Promise<{ firstStartMs: number; doneMs: Array<number | null>; failures: string[]; notes?: string[]; torrent?: TorrentBytes }>,
): Promise<Result> {
  const egressBefore = ctx.network.txBytes(ctx.network.server.ns);
  const serverStartupCpu = server ? cpuTimes(server.pid) : { user: 0, system: 0 };
  const cpuBefore = reapedChildrenCpuSeconds();
  const procs = new Processes();
  const host = [hostCpu()];
  const hostSampler = setInterval(() => host.push(hostCpu()), 250);
  let outcome: Awaited<ReturnType<typeof body>>;
  let trackerCpu = { user: 0, system: 0 };
  try {
    outcome = await body(procs, deadlineFrom(ctx, Date.now()));
  } finally {
    clearInterval(hostSampler);
    host.push(hostCpu());
    await procs.finish();
    if (server) {
      const now = cpuTimes(server.pid);
      trackerCpu = { user: now.user - serverStartupCpu.user, system: now.system - serverStartupCpu.system };
      await server.stop();
    }
  }
  const cpuS = reapedChildrenCpuSeconds() - cpuBefore - serverStartupCpu.user - serverStartupCpu.system;
  const egressBytes = ctx.network.txBytes(ctx.network.server.ns) - egressBefore;
  const done = outcome.doneMs.filter((t): t is number => t !== null);
  const lastDoneMs = done.length ? Math.max(...done) : Date.now();
  const from = host.filter((sample) => sample.atMs <= outcome.firstStartMs).at(-1) ?? host[0]!;
  const to = host.find((sample) => sample.atMs >= lastDoneMs) ?? host.at(-1)!;
  const ticks = Math.max(1, to.total - from.total);
  return {
    mechanism,
    devices: outcome.doneMs.length,
    completed: done.length,
    intact: await intactCopies(ctx, outcome.doneMs.map((_, i) => i)),
    makespanS: done.length === outcome.doneMs.length ? (lastDoneMs - outcome.firstStartMs) / 1000 : NaN,
    doneS: done.map((t) => (t - outcome.firstStartMs) / 1000).sort((a, b) => a - b),
    hostBusy: (to.busy - from.busy) / ticks,
    hostSteal: (to.steal - from.steal) / ticks,
    limitS: mechanism === 'http' ? unicastLimitS(ctx) : linkLimitS(ctx),
    egressBytes,
    cpuS,
    serverCpu: { user: procs.serverCpu.user + trackerCpu.user, system: procs.serverCpu.system + trackerCpu.system },
    torrent: outcome.torrent ?? null,
    notes: outcome.notes ?? [],
    failures: outcome.failures,
  };
}

const tracker = (ctx: Context) => startTrackerServer(ctx.network.server.ns, { file: ctx.file, host: ctx.network.server.address, port: TRACKER_PORT, interval: ANNOUNCE_INTERVAL });

async function runHttp(ctx: Context): Promise<Result> {
  prepareDeviceDirs(ctx);
  const server = await tracker(ctx);
  return measure(ctx, 'http', server, async (procs, deadlineMs) => {
    const firstStartMs = Date.now();
    const maxTime = String(Math.ceil((deadlineMs - firstStartMs) / 1000));
    const runs = ctx.network.devices.map((device, i) => procs.start(device.ns, 'curl', ['-sS', '--fail', '--max-time', maxTime, '-o', deviceFile(ctx, i), server.fileUrl]));
    await procs.exited(runs, deadlineMs);
    return {
      firstStartMs,
      doneMs: runs.map((run) => (run.exitCode === 0 ? run.exitedMs : null)),
      failures: runs.flatMap((run, i) => (run.exitCode === 0 ? [] : [`device ${i + 1}: curl ${run.exitCode === null ? 'still running at the deadline' : `exit ${run.exitCode}`}: ${tail(run.output)}`])),
    };
  });
}

/** aria2's own account at shutdown, "uploaded/downloaded=12MiB/272MiB" (notice level, rounded as shown), in bytes. */
function aria2Shares(logFile: string): { uploaded: number; downloaded: number } | null {
  if (!existsSync(logFile)) return null;
  const units: Record<string, number> = { B: 1, KiB: 1024, MiB: MIB, GiB: GIB };
  const last = [...readFileSync(logFile, 'utf8').matchAll(/uploaded\/downloaded=([\d.]+)(B|KiB|MiB|GiB)\/([\d.]+)(B|KiB|MiB|GiB)/g)].at(-1);
  return last ? { uploaded: Number(last[1]) * units[last[2]!]!, downloaded: Number(last[3]) * units[last[4]!]! } : null;
}

/** The flags every aria2c of the swarm shares: no DHT or local discovery (the tracker and PEX only), seeding until stopped. */
function aria2Flags(dir: string, logFile: string, deadlineMs: number): string[] {
  return [
    `--dir=${dir}`,
    '--bt-enable-lpd=false',
    '--enable-dht=false',
    '--enable-peer-exchange=true',
    '--file-allocation=none',
    // Seed on after completing until the benchmark stops it (seed ratio 0: time alone decides), never past the deadline.
    '--seed-ratio=0.0',
    `--seed-time=${Math.ceil((deadlineMs - Date.now()) / 60_000)}`,
    `--stop-with-process=${process.pid}`,
    '--console-log-level=warn',
    '--summary-interval=0',
    '--show-console-readout=false',
    `--log=${logFile}`,
    '--log-level=notice',
  ];
}

async function runTorrent(ctx: Context, mechanism: 'torrent-webseed' | 'torrent-seeder'): Promise<Result> {
  prepareDeviceDirs(ctx);
  const webSeed = mechanism === 'torrent-webseed';
  const server = await tracker(ctx);
  const torrentFile = join(ctx.workDir, `${mechanism}.torrent`);
  const torrent = await makeTorrent(ctx.file, { announce: server.announceUrl, pieceLength: ctx.config.pieceBytes, ...(webSeed ? { webSeed: server.fileUrl } : {}) });
  writeFileSync(torrentFile, torrent.data);
  // aria2 runs this when a download completes, before seeding: the completion time, beside the file.
  const hook = join(ctx.workDir, 'on-complete.sh');
  writeFileSync(hook, '#!/bin/sh\n# aria2 passes: GID, number of files, path of the first file\ndate +%s%N > "$3.done"\n', { mode: 0o755 });
  const logOf = (name: string) => join(ctx.workDir, `aria2-${mechanism}-${name}.log`);
  return measure(ctx, mechanism, server, async (procs, deadlineMs) => {
    const notes: string[] = [];
    let seeder: Proc | null = null;
    if (!webSeed) {
      // The server's copy, announced with left=0 without hashing it again.
      seeder = procs.start(ctx.network.server.ns, 'aria2c', [...aria2Flags(dirname(ctx.file), logOf('seeder'), deadlineMs), '--bt-seed-unverified=true', torrentFile], { server: true });
      const until = Date.now() + 30_000;
      let seeders = (await server.stats()).seeders;
      while (seeders < 1 && Date.now() < until && seeder.exitCode === null) {
        await sleep(100);
        seeders = (await server.stats()).seeders;
      }
      if (seeders < 1) throw new Error(`the seeder did not announce itself within 30 s: ${tail(seeder.output)}`);
    }
    const firstStartMs = Date.now();
    const runs = ctx.network.devices.map((device, i) =>
      procs.start(device.ns, 'aria2c', [...aria2Flags(deviceDir(ctx, i), logOf(`d${i + 1}`), deadlineMs), `--on-bt-download-complete=${hook}`, torrentFile]),
    );
    const doneMs: Array<number | null> = runs.map(() => null);
    while (Date.now() < deadlineMs && doneMs.some((t, i) => t === null && runs[i]!.exitCode === null)) {
      for (let i = 0; i < runs.length; i++) {
        const mark = `${deviceFile(ctx, i)}.done`;
        if (doneMs[i] === null && existsSync(mark)) {
          const nanoseconds = readFileSync(mark, 'utf8').trim();
          if (/^\d{19}$/.test(nanoseconds)) doneMs[i] = Number(BigInt(nanoseconds) / 1_000_000n);
        }
      }
      await sleep(100);
    }
    const stats = await server.stats();
    // Graceful stops: each aria2c then logs what it uploaded.
    await procs.stop(runs, 10_000);
    if (seeder) await procs.stop([seeder], 10_000);
    const shares = runs.map((_, i) => aria2Shares(logOf(`d${i + 1}`)));
    const known = shares.every((share) => share !== null);
    const sum = (pick: (share: { uploaded: number; downloaded: number }) => number) => (known ? shares.reduce((total, share) => total + pick(share), 0) : null);
    notes.push(`tracker: ${stats.announces} announces, ${stats.peers} peers at the end${webSeed ? `; web seed: ${stats.fileRequests} range requests` : ''}`);
    if (!known) notes.push(`${shares.filter((share) => share === null).length} aria2c logged no share ratio: the devices' bytes are unknown`);
    const torrent: TorrentBytes = {
      server: webSeed ? stats.fileBytesWritten : (aria2Shares(logOf('seeder'))?.uploaded ?? null),
      devicesUploaded: sum((share) => share.uploaded),
      devicesDownloaded: sum((share) => share.downloaded),
    };
    return {
      firstStartMs,
      doneMs,
      notes,
      torrent,
      failures: runs.flatMap((run, i) =>
        doneMs[i] !== null ? [] : [`device ${i + 1}: ${run.exitCode === null || run.exitCode >= 128 ? 'incomplete at the deadline' : `aria2c exit ${run.exitCode}`}: ${tail(run.output)}`],
      ),
    };
  });
}

/**
 * The test network's addresses have no broadcast address; udpcast's receivers send their connect requests to it
 * (to 0.0.0.0 without one, and never find the sender). Gives every endpoint one, as DHCP would. Answers how many.
 */
function giveBroadcastAddresses(network: ShapedNetwork): number {
  let changed = 0;
  for (const endpoint of [network.server, ...network.devices]) {
    const [link] = JSON.parse(spawnSync('ip', ['-n', endpoint.ns, '-j', 'addr', 'show', 'dev', 'eth0'], { encoding: 'utf8' }).stdout) as [{ addr_info: Array<{ local: string; prefixlen: number; broadcast?: string }> }];
    const info = link.addr_info.find((a) => a.local === endpoint.address);
    if (!info || info.broadcast) continue;
    const address = `${endpoint.address}/${info.prefixlen}`;
    for (const args of [['addr', 'del', address, 'dev', 'eth0'], ['addr', 'add', address, 'brd', '+', 'dev', 'eth0']]) {
      const result = spawnSync('ip', ['-n', endpoint.ns, ...args], { encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`ip ${args.join(' ')} in ${endpoint.ns}: ${result.stderr.trim()}`);
    }
    changed++;
  }
  return changed;
}

interface MulticastSession {
  firstStartMs: number;
  /** When the sender said "Starting transfer". */
  transferStartMs: number | null;
  sender: Proc;
  receivers: Proc[];
  /** The addresses the sender said "New connection from". */
  connected: Set<string>;
  doneMs: Array<number | null>;
  /** The sender's last figure: retransmitted blocks and their share. */
  retransmits: string | null;
}

/** udp-sender in the server namespace for the `onTime` receivers, all started at once; `onTransfer` is told when data flows. */
async function multicastSession(ctx: Context, procs: Processes, deadlineMs: number, onTime: Endpoint[], options: { streaming?: boolean; onTransfer?: () => void } = {}): Promise<MulticastSession> {
  const startTimeout = String(Math.ceil((deadlineMs - Date.now()) / 1000));
  const doneMs: Array<number | null> = onTime.map(() => null);
  const transfer: { startMs: number | null } = { startMs: null };
  let senderText = '';
  const connected = new Set<string>();
  const firstStartMs = Date.now();
  const sender = procs.start(
    ctx.network.server.ns,
    'udp-sender',
    ['--file', ctx.file, '--interface', 'eth0', '--min-receivers', String(onTime.length), '--nokbd', '--start-timeout', startTimeout, ...UDP_SENDER_FLAGS(ctx), ...(options.streaming ? ['--streaming'] : [])],
    {
      server: true,
      onOutput: (text) => {
        senderText = (senderText + text).slice(-4000);
        for (const [, address] of senderText.matchAll(/New connection from (\S+)\s/g)) connected.add(address!);
        if (transfer.startMs === null && senderText.includes('Starting transfer')) {
          transfer.startMs = Date.now();
          options.onTransfer?.();
        }
      },
    },
  );
  const receivers = onTime.map((device, at) => {
    let text = '';
    return procs.start(device.ns, 'udp-receiver', ['--file', deviceFile(ctx, ctx.network.devices.indexOf(device)), '--interface', 'eth0', '--nokbd', '--start-timeout', startTimeout, '--receive-timeout', '30'], {
      onOutput: (chunk) => {
        text = (text + chunk).slice(-200);
        if (doneMs[at] === null && text.includes('Transfer complete')) doneMs[at] = Date.now();
      },
    });
  });
  await procs.exited([sender, ...receivers], deadlineMs);
  const figures = [...senderText.matchAll(/re-xmits=(\d+)\s*\(\s*([\d.]+)%\)/g)].at(-1);
  return {
    firstStartMs,
    transferStartMs: transfer.startMs,
    sender,
    receivers,
    connected,
    doneMs,
    retransmits: figures ? `${Number(figures[1])} blocks retransmitted (${figures[2]} % of those sent)` : null,
  };
}

const receiverFailures = (session: MulticastSession) =>
  session.receivers.flatMap((run, i) =>
    session.doneMs[i] !== null ? [] : [`device ${i + 1}: udp-receiver ${run.exitCode === null ? 'still running at the deadline' : `exit ${run.exitCode}`}: ${tail(run.output)}`],
  );

async function runMulticast(ctx: Context): Promise<Result> {
  prepareDeviceDirs(ctx);
  return measure(ctx, 'multicast', null, async (procs, deadlineMs) => {
    const session = await multicastSession(ctx, procs, deadlineMs, ctx.network.devices);
    const done = session.doneMs.filter((t): t is number => t !== null);
    const notes = [`udp-sender ${UDP_SENDER_FLAGS(ctx).join(' ')}: ${session.retransmits ?? 'no retransmission figure printed'}`];
    if (session.transferStartMs === null) notes.push('the transfer never started');
    else {
      const dataS = done.length ? (Math.max(...done) - session.transferStartMs) / 1000 : NaN;
      notes.push(
        `rendezvous (sender start → "Starting transfer") ${fmtS((session.transferStartMs - session.firstStartMs) / 1000)}, then data ${fmtS(dataS)} ` +
          `(${((ctx.fileBytes * 8) / dataS / 1e6).toFixed(0)} Mbit/s of file to every receiver)`,
      );
    }
    return { firstStartMs: session.firstStartMs, doneMs: session.doneMs, notes, failures: [...(session.sender.exitCode === 0 ? [] : [`udp-sender exit ${session.sender.exitCode}: ${tail(session.sender.output)}`]), ...receiverFailures(session)] };
  });
}

/** One receiver started LATE_JOIN_MS after the transfer began: what became of it, in words. */
async function runLateJoiner(ctx: Context, streaming: boolean): Promise<string> {
  prepareDeviceDirs(ctx);
  const devices = ctx.network.devices;
  const onTime = devices.slice(0, -1);
  const lateIndex = devices.length - 1;
  const procs = new Processes();
  try {
    const deadlineMs = deadlineFrom(ctx, Date.now());
    let lateDoneMs: number | null = null;
    let startLate: Promise<{ proc: Proc; startMs: number }> | null = null;
    const session = await multicastSession(ctx, procs, deadlineMs, onTime, {
      streaming,
      onTransfer: () => {
        startLate = sleep(LATE_JOIN_MS).then(() => ({
          startMs: Date.now(),
          proc: procs.start(devices[lateIndex]!.ns, 'udp-receiver', ['--file', deviceFile(ctx, lateIndex), '--interface', 'eth0', '--nokbd', '--start-timeout', '60', '--receive-timeout', '30'], {
            onOutput: (text) => {
              if (lateDoneMs === null && text.includes('Transfer complete')) lateDoneMs = Date.now();
            },
          }),
        }));
      },
    });
    const sessionEndMs = session.sender.exitedMs ?? Date.now();
    const late = await (startLate as Promise<{ proc: Proc; startMs: number }> | null);
    if (late) {
      // Once the session is over the late receiver can only wait for another one: 5 s more, then it is stopped.
      await procs.exited([late.proc], Math.min(deadlineMs, Math.max(sessionEndMs, late.startMs) + 5000));
      await procs.stop([late.proc], 2000);
    }
    const onTimeDone = session.doneMs.filter((t) => t !== null).length;
    const intactOnTime = await intactCopies(ctx, onTime.map((_, i) => i));
    const copy = await describeCopy(ctx, lateIndex);
    const lateDone = lateDoneMs as number | null;
    const what = !late
      ? 'never started: the transfer did not begin'
      : lateDone !== null
        ? `completed ${fmtS((lateDone - late.startMs) / 1000)} after it started; ${copy}`
        : late.proc.exitCode === 128 + constants.signals.SIGTERM
          ? `was still waiting ${fmtS((late.proc.exitedMs! - sessionEndMs) / 1000)} after the session ended (then stopped); ${copy}`
          : `exit ${String(late.proc.exitCode)}; ${copy}; it said: ${tail(late.proc.output)}`;
    const transferS = session.transferStartMs !== null ? (sessionEndMs - session.transferStartMs) / 1000 : NaN;
    return (
      `${streaming ? 'udp-sender --streaming' : 'plain udp-sender'}: ${onTimeDone} of ${onTime.length} receivers on time completed (${intactOnTime} intact) in a ${fmtS(transferS)} transfer; ` +
      `the late one, started ${fmtS(LATE_JOIN_MS / 1000)} into it, ${what}; the sender ${session.connected.has(devices[lateIndex]!.address) ? 'took its connection' : 'never took its connection'}`
    );
  } finally {
    await procs.finish();
  }
}

/** A device's copy in words (its size, and whether it is the file); removed afterwards. */
async function describeCopy(ctx: Context, i: number): Promise<string> {
  const path = deviceFile(ctx, i);
  const size = existsSync(path) ? statSync(path).size : null;
  const intact = (await sha256Of(path)) === ctx.fileSha256;
  rmSync(deviceDir(ctx, i), { recursive: true, force: true });
  return size === null ? 'no file written' : `its file has ${fmtMib(size)}${intact ? ', the right SHA-256' : ', NOT the file'}`;
}

const fmtS = (s: number) => (Number.isFinite(s) ? `${s.toFixed(1)} s` : 'n/a');
const fmtMib = (bytes: number) => `${(bytes / MIB).toFixed(1)} MiB`;
const fmtGib = (bytes: number) => `${(bytes / GIB).toFixed(2)} GiB`;
const freeBytes = (dir: string) => {
  const stats = statfsSync(dir);
  return stats.bavail * stats.bsize;
};

export default async function benchOneToManyMechanisms(): Promise<void> {
  const config = settings();
  const why = shapedNetworkUnavailable();
  if (why) {
    console.log(`  not run: ${why}`);
    return;
  }
  const missing = missingTools(config.mechanisms);
  for (const [mechanism, reason] of missing) console.log(`  ${mechanism}: not run, ${reason}`);
  const mechanisms = config.mechanisms.filter((m) => !missing.has(m));
  if (mechanisms.length === 0) {
    console.log('  not run: no mechanism left to measure');
    return;
  }
  const temp = tempDir('one-to-many');
  const removeTemp = onCleanup(() => temp.remove());
  let network: ShapedNetwork | null = null;
  try {
    const fileBytes = config.fileMib * MIB;
    const needed = (config.devices + 1) * fileBytes * 1.05;
    if (freeBytes(temp.dir) < needed) {
      console.log(`  not run: the copies need ${fmtGib(needed)} and ${fmtGib(freeBytes(temp.dir))} are free in ${temp.dir}`);
      return;
    }
    const file = join(temp.dir, 'chunks.bin');
    await writeRandomFile(file, config.fileMib);
    const fileSha256 = (await sha256Of(file))!;
    network = createShapedNetwork({ devices: config.devices, uplinkBitsPerSecond: config.uplinkBitsPerSecond, linkBitsPerSecond: config.linkBitsPerSecond, delayMs: 0.1 });
    const ctx: Context = { config, network, file, fileBytes, fileSha256, workDir: join(temp.dir, 'work') };
    console.log(`  file: ${config.fileMib} MiB of random bytes; torrents in ${Math.ceil(fileBytes / config.pieceBytes)} pieces of ${config.pieceBytes / 1024} KiB`);
    console.log(`  network: ${network.description}; ${config.devices} devices`);
    console.log(`  host: ${cpus().length} cores shared by every process of every device (each Pi has 4 of its own); load average ${loadavg()[0]!.toFixed(2)} at the start`);
    if (mechanisms.includes('multicast')) {
      const changed = giveBroadcastAddresses(network);
      if (changed) console.log(`  multicast: ${changed} namespaces' addresses given a broadcast address (brd +), which udpcast's rendezvous needs`);
    }
    const results: Result[] = [];
    const lateJoiners: string[] = [];
    for (const mechanism of mechanisms) {
      const limit = mechanism === 'http' ? unicastLimitS(ctx) : linkLimitS(ctx);
      console.log(`  ${mechanism}: ${config.devices} devices at once (physical limit ${fmtS(limit)})…`);
      try {
        const result = mechanism === 'http' ? await runHttp(ctx) : mechanism === 'multicast' ? await runMulticast(ctx) : await runTorrent(ctx, mechanism);
        results.push(result);
        console.log(`  ${mechanism}: ${result.completed} of ${result.devices} completed in ${fmtS(result.makespanS)}, ${result.intact} copies intact`);
        for (const note of result.notes) console.log(`    ${note}`);
        for (const failure of result.failures.slice(0, 3)) console.log(`    ${failure}`);
        if (result.failures.length > 3) console.log(`    … and ${result.failures.length - 3} more`);
        if (mechanism === 'multicast') {
          for (const streaming of [false, true]) {
            console.log(`  multicast with a late joiner${streaming ? ', udp-sender --streaming' : ''}…`);
            lateJoiners.push(await runLateJoiner(ctx, streaming));
          }
        }
      } catch (error) {
        console.log(`  ${mechanism}: failed: ${(error as Error).message}`);
      }
    }
    printResults(ctx, results, lateJoiners);
  } finally {
    network?.teardown();
    temp.remove();
    removeTemp();
  }
}

function printResults(ctx: Context, results: Result[], lateJoiners: string[]): void {
  const cores = cpus().length;
  type Cell = (r: Result) => string;
  const orNa = (n: number | null, format: (n: number) => string) => (n === null || !Number.isFinite(n) ? 'n/a' : format(n));
  const perFile = (bytes: number) => (bytes / ctx.fileBytes).toFixed(2);
  const lines: Array<[string, Cell]> = [
    ['makespan (first start → last device complete)', (r) => fmtS(r.makespanS)],
    ['physical limit', (r) => fmtS(r.limitS)],
    ['makespan ÷ physical limit', (r) => orNa(r.makespanS / r.limitS, (n) => `${n.toFixed(2)}×`)],
    ['first / median device complete', (r) => (r.doneS.length ? `${r.doneS[0]!.toFixed(1)} / ${r.doneS[r.doneS.length >> 1]!.toFixed(1)} s` : 'n/a')],
    ['server egress (eth0 tx bytes)', (r) => fmtGib(r.egressBytes)],
    ['server egress ÷ file size', (r) => (r.egressBytes / ctx.fileBytes).toFixed(2)],
    ['torrents: sent by the server ÷ file', (r) => orNa(r.torrent?.server ?? null, perFile)],
    ['torrents: devices uploaded to each other ÷ file', (r) => orNa(r.torrent?.devicesUploaded ?? null, perFile)],
    ['torrents: devices downloaded in all ÷ file', (r) => orNa(r.torrent?.devicesDownloaded ?? null, perFile)],
    ['host CPU of all the mechanism\'s processes', (r) => fmtS(r.cpuS)],
    ['  of which the server namespace\'s', (r) => fmtS(r.serverCpu.user + r.serverCpu.system)],
    ['  the server\'s system time (kernel: sockets, bridge)', (r) => fmtS(r.serverCpu.system)],
    [`host CPU ÷ ${cores} cores ÷ makespan`, (r) => orNa(r.cpuS / cores / r.makespanS, (n) => `${(n * 100).toFixed(0)} %`)],
    ['host CPUs busy in the makespan, anyone\'s (steal)', (r) => `${(r.hostBusy * 100).toFixed(0)} % (${(r.hostSteal * 100).toFixed(0)} %)`],
    ['copies with the file\'s SHA-256', (r) => `${r.intact} of ${r.devices}`],
  ];
  console.log(`  ${''.padEnd(50)} ${results.map((r) => LABELS[r.mechanism].padStart(14)).join(' ')}`);
  for (const [label, cell] of lines) console.log(`  ${label.padEnd(50)} ${results.map((r) => cell(r).padStart(14)).join(' ')}`);
  if (results.some((r) => r.torrent)) {
    console.log('  torrents, by aria2\'s own counts (rounded as it logs them): "sent by the server" is the seeder\'s upload, or for the web');
    console.log('  seed the bytes the server wrote into its connections (aria2 asks for open-ended ranges and drops them; some never left)');
  }
  for (const r of results) {
    if (r.hostBusy >= 0.9 || r.cpuS / cores >= 0.8 * r.makespanS) {
      console.log(
        `  note: ${r.mechanism}: the host's ${cores} cores were ${(r.hostBusy * 100).toFixed(0)} % busy, ${((r.cpuS / cores / r.makespanS) * 100).toFixed(0)} % with its processes: ` +
          'the host\'s CPU, not the network, may bound it here',
      );
    }
  }
  for (const late of lateJoiners) console.log(`  late joiner, ${late}`);
  console.log(`  load average ${loadavg()[0]!.toFixed(2)} at the end`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await benchOneToManyMechanisms();

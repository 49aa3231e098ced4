// A fleet of simulated boards: N installers in one process, each with its own fake serial and MAC and a
// file-backed disk (or a hashing sink for fleets too big for the disk), optionally slowed to a bandwidth cap
// and given injected faults. It drives the dashboard for demos and is the load generator for benchmarks.
import { createHash, randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CardIdentity } from '../contracts/card-health.js';
import type { ProductType } from '../contracts/domain.js';
import { runInstaller, type FaultLayout, type InstallerFaults, type InstallerPhase, type InstallerResult } from './installer.runner.js';
import { sleep, type RetryPolicy } from './retry.policy.js';

export type FaultKind = 'none' | 'corrupt' | 'cut';
export type FaultMode = 'corrupt' | 'cut' | 'mixed';

export interface FleetOptions {
  devices: number;
  serverUrl: string;
  productType?: ProductType | null;
  venueCode?: string | null;
  /** Folder for the file-backed disks; null hashes into a sink instead. */
  diskDir: string | null;
  /** Keep each disk file after its device finishes (default: delete it, so big fleets fit). */
  keepDisks?: boolean;
  /** Per-device download cap, bytes per second. */
  bandwidth?: number | null;
  /** Per-device card write speed, bytes per second (a simulated SD card; applies to sinks too). */
  cardWriteRate?: number | null;
  /** Image delivery v2: chunks in flight per device (default 4). */
  chunksInFlight?: number;
  /** Download the raw image even where the server offers chunks (v1, for comparisons). */
  rawOnly?: boolean;
  /** Share of devices given a fault, 0–1. */
  failRate?: number;
  failMode?: FaultMode;
  /** Delay between two device starts (boards do not power up in the same millisecond). */
  staggerMs?: number;
  /** Makes identities and fault choices reproducible: the same seed is the same fleet. */
  seed?: string;
  customize?: boolean;
  deviceToken?: string | null;
  retryPolicy?: RetryPolicy;
  reportIntervalMs?: number;
  signal?: AbortSignal;
}

export interface DeviceState {
  phase: InstallerPhase | 'waiting';
  hostname: string | null;
  bytesDone: number;
  bytesTotal: number;
  rateBps: number;
  percent: number;
  retries: number;
  note: string;
  startedAt: number | null;
  endedAt: number | null;
  /** An operator's Identify: until when (performance.now() ms) the board would blink its LED; null when not asked. */
  identifyingUntil: number | null;
}

/** Whether a simulated board is blinking its LED for an Identify at `now` (performance.now() ms). */
export const isIdentifying = (state: DeviceState, now = performance.now()): boolean => state.identifyingUntil !== null && state.identifyingUntil > now;

export interface SimulatedDevice {
  index: number;
  serial: string;
  mac: string;
  fault: FaultKind;
  state: DeviceState;
  result: InstallerResult | null;
}

export interface FleetSummary {
  devices: number;
  completed: number;
  failed: number;
  /** Failures the injected faults were meant to cause (corrupted disks). */
  expectedFailures: number;
  /** Devices whose outcome is not what their fault plan predicts. */
  unexpected: number;
  makespanMs: number;
  totalBytes: number;
  aggregateBytesPerSecond: number;
  durationsMs: { min: number; p50: number; p95: number; max: number };
  resumes: number;
  failures: Array<{ serial: string; hostname: string | null; fault: FaultKind; error: string }>;
}

/** Identities and faults for the fleet, before anything runs. */
export function planFleet(options: Pick<FleetOptions, 'devices' | 'seed' | 'failRate' | 'failMode'>): SimulatedDevice[] {
  const seed = options.seed ?? randomBytes(8).toString('hex');
  const digest = (text: string) => createHash('sha256').update(`${seed}:${text}`).digest();
  const run = digest('run').toString('hex').slice(0, 8);
  const usedTails = new Set<string>();
  const devices: SimulatedDevice[] = [];
  let faulty = 0;
  for (let index = 0; index < options.devices; index++) {
    // RXP2 hostnames use the serial's last 8 characters: keep them distinct within the fleet.
    let tail = digest(`serial:${index}`).toString('hex').slice(0, 8);
    for (let n = 1; usedTails.has(tail); n++) tail = digest(`serial:${index}:${n}`).toString('hex').slice(0, 8);
    usedTails.add(tail);
    const macBytes = digest(`mac:${index}`).subarray(0, 5);
    // 02:… is a locally administered unicast address: never a real vendor's.
    const mac = ['02', ...[...macBytes].map((b) => b.toString(16).padStart(2, '0'))].join(':');
    const draw = digest(`fault:${index}`).readUInt32BE(0) / 0x1_0000_0000;
    let fault: FaultKind = 'none';
    if (draw < (options.failRate ?? 0)) {
      const mode = options.failMode ?? 'mixed';
      fault = mode === 'mixed' ? (faulty % 2 === 0 ? 'corrupt' : 'cut') : mode;
      faulty++;
    }
    devices.push({
      index,
      serial: `${run}${tail}`,
      mac,
      fault,
      state: { phase: 'waiting', hostname: null, bytesDone: 0, bytesTotal: 0, rateBps: 0, percent: 0, retries: 0, note: '', startedAt: null, endedAt: null, identifyingUntil: null },
      result: null,
    });
  }
  return devices;
}

/** The faults of one device, placed once the image and its delivery (raw or chunks) are known. */
function faultsFor(kind: FaultKind, sink: boolean): ((size: number, layout: FaultLayout) => InstallerFaults) | undefined {
  if (kind === 'cut') return (_size, layout) => ({ cutDownloadAfterBytes: Math.floor(layout.wireBytes * 0.4) });
  // A sink keeps nothing to read back, so its corruption happens on the way in and the streamed checksum (v2: the
  // chunk's hash, every time it is fetched) catches it.
  if (kind === 'corrupt') {
    return (_size, layout) => (sink ? { corruptStreamAt: layout.writtenOffsetAt(0.6) } : { corruptWriteAt: layout.writtenOffsetAt(0.6) });
  }
  return undefined;
}

export async function runFleet(
  options: FleetOptions,
  onChange: (devices: SimulatedDevice[]) => void = () => {},
): Promise<{ devices: SimulatedDevice[]; summary: FleetSummary }> {
  const devices = planFleet(options);
  // Every device listens to the one stop signal (its requests, its waits): a fleet of more than ten is no leak.
  if (options.signal) setMaxListeners(0, options.signal);
  if (options.diskDir) await mkdir(options.diskDir, { recursive: true });
  const fleetStarted = performance.now();

  await Promise.all(
    devices.map(async (device) => {
      if (options.staggerMs) await sleep(device.index * options.staggerMs, options.signal).catch(() => {});
      if (options.signal?.aborted) {
        device.state.note = 'not started (stopped)';
        return;
      }
      const state = device.state;
      state.startedAt = performance.now();
      state.phase = 'config';
      onChange(devices);
      const disk = options.diskDir ? join(options.diskDir, `sim-${device.serial}.img`) : null;
      try {
        device.result = await runInstaller({
          serverUrl: options.serverUrl,
          target: disk ?? 'sink',
          identity: { serial: device.serial, mac: device.mac, model: 'Pitcrew simulated Raspberry Pi 5', iface: null },
          productType: options.productType ?? null,
          venueCode: options.venueCode ?? null,
          retryPolicy: options.retryPolicy,
          reportIntervalMs: options.reportIntervalMs,
          maxBytesPerSecond: options.bandwidth ?? undefined,
          cardWriteBytesPerSecond: options.cardWriteRate ?? undefined,
          chunksInFlight: options.chunksInFlight,
          rawOnly: options.rawOnly,
          customize: options.customize,
          faults: faultsFor(device.fault, disk === null),
          deviceToken: options.deviceToken,
          signal: options.signal,
          // A simulated board has no LED of its own (the host's stays alone): the simulator shows the Identify instead.
          activityLed: false,
          card: simulatedCard(device),
          onEvent: (event) => {
            if (event.type === 'config') state.hostname = event.config.hostname;
            else if (event.type === 'phase') {
              state.phase = event.phase;
              state.note = event.phase === 'failed' ? event.message : '';
              state.rateBps = 0;
            } else if (event.type === 'progress') {
              Object.assign(state, { bytesDone: event.bytesDone, bytesTotal: event.bytesTotal, rateBps: event.rateBps, percent: event.percent });
            } else if (event.type === 'identify') {
              state.identifyingUntil = performance.now() + event.seconds * 1000;
            } else if (event.type === 'retry') {
              state.retries++;
              state.note = `retry ${event.attempt}: ${event.reason}`;
            }
            onChange(devices);
          },
        });
        const result = device.result;
        state.phase = result.ok ? 'completed' : 'failed';
        if (result.ok) state.percent = 100;
        else state.note = result.error ?? 'failed';
      } catch (error) {
        state.phase = 'failed';
        state.note = `simulator error: ${(error as Error).message}`;
      } finally {
        state.endedAt = performance.now();
        if (disk && !options.keepDisks) await rm(disk, { force: true });
        onChange(devices);
      }
    }),
  );
  return { devices, summary: summarizeFleet(devices, performance.now() - fleetStarted) };
}

/** The SD card a simulated board reports (no /sys describes a file or a sink): a 32 GB SanDisk, its serial from the board's. */
function simulatedCard(device: SimulatedDevice): CardIdentity {
  return { kind: 'sd', manufacturer: 'SanDisk', name: 'SN32G', serial: `0x${device.serial.slice(-8)}`, size_bytes: 31_914_983_424, capacity_check: 'skipped' };
}

export function summarizeFleet(devices: SimulatedDevice[], makespanMs: number): FleetSummary {
  const finished = devices.filter((d) => d.result);
  const completed = finished.filter((d) => d.result!.ok);
  const failed = devices.filter((d) => !d.result?.ok);
  const durations = finished.map((d) => d.state.endedAt! - d.state.startedAt!).sort((a, b) => a - b);
  const pick = (q: number) => (durations.length ? Math.round(durations[Math.min(durations.length - 1, Math.floor(q * durations.length))]!) : 0);
  const totalBytes = finished.reduce((sum, d) => sum + d.result!.bytes, 0);
  // A corrupted disk must fail; every other device must complete (a cut connection only costs a resume).
  const expectedFailures = failed.filter((d) => d.fault === 'corrupt').length;
  const unexpected = devices.filter((d) => (d.fault === 'corrupt') === Boolean(d.result?.ok)).length;
  return {
    devices: devices.length,
    completed: completed.length,
    failed: failed.length,
    expectedFailures,
    unexpected,
    makespanMs: Math.round(makespanMs),
    totalBytes,
    aggregateBytesPerSecond: makespanMs > 0 ? Math.round((totalBytes * 1000) / makespanMs) : 0,
    durationsMs: { min: durations.length ? Math.round(durations[0]!) : 0, p50: pick(0.5), p95: pick(0.95), max: durations.length ? Math.round(durations.at(-1)!) : 0 },
    resumes: finished.reduce((sum, d) => sum + d.result!.resumes, 0),
    failures: failed.map((d) => ({ serial: d.serial, hostname: d.state.hostname, fault: d.fault, error: d.result?.error ?? d.state.note ?? 'not finished' })),
  };
}

// `pitcrew simulate --devices N --server URL`: a fleet of simulated boards imaging themselves from a running
// server — for demos (the dashboard fills with live deployments), tests and load. The engine is
// src/agent/fleet.simulator.ts; this file is options, the live table and the summary.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommanderError, InvalidArgumentError, Option, type Command } from 'commander';
import { PRODUCT_TYPES, type ProductType } from '../../contracts/domain.js';
import { parseByteRate } from '../../agent/agent.options.js';
import { isIdentifying, runFleet, type FaultMode, type FleetSummary, type SimulatedDevice } from '../../agent/fleet.simulator.js';
import { formatBytes } from '../../contracts/format.js';
import { parseWholeNumber } from '../../contracts/numbers.js';
import { say } from '../output.js';

interface SimulateFlags {
  devices: number;
  server: string;
  productType?: ProductType;
  venue?: string;
  diskDir?: string;
  sink?: boolean;
  keepDisks?: boolean;
  bandwidth?: number;
  failRate: number;
  failMode: FaultMode;
  stagger: number;
  seed?: string;
  customize: boolean;
  deviceToken?: string;
  table: boolean;
  json?: boolean;
}

const MAX_DEVICES = 10_000;

const wholeNumber = (min: number, max: number) => (raw: string) => {
  const value = parseWholeNumber(raw, { min, max });
  if (value === null) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
  return value;
};

export function registerSimulateCommand(program: Command): void {
  program
    .command('simulate')
    .description('run a fleet of simulated devices against a server (demo, test, load)')
    .requiredOption('--devices <n>', 'how many devices', wholeNumber(1, MAX_DEVICES))
    .requiredOption('--server <url>', 'the device listener, e.g. http://127.0.0.1:5001', (raw) => {
      try {
        const url = new URL(raw);
        if (url.protocol === 'http:' || url.protocol === 'https:') return raw;
      } catch {
        // fall through
      }
      throw new InvalidArgumentError('expected an http(s) URL');
    })
    .option('--product-type <type>', `product the devices ask for: ${PRODUCT_TYPES.join(' or ')} (else the active batch decides)`, (raw) => {
      const product = raw.toUpperCase();
      if (!(PRODUCT_TYPES as readonly string[]).includes(product)) throw new InvalidArgumentError(`expected ${PRODUCT_TYPES.join(' or ')}`);
      return product as ProductType;
    })
    .option('--venue <code>', 'venue the devices name when no batch is active', (raw) => raw.toUpperCase())
    .option('--disk-dir <dir>', 'folder for the file-backed disks (default: a temporary folder)')
    .option('--sink', 'hash the images without writing disks (big fleets; no read-back or customisation)')
    .option('--keep-disks', 'keep each disk file after its device finishes')
    .option('--bandwidth <rate>', 'per-device download cap, e.g. 20M (bytes per second)', (raw) => {
      try {
        return parseByteRate(raw);
      } catch (error) {
        throw new InvalidArgumentError((error as Error).message);
      }
    })
    .option('--fail-rate <share>', 'share of devices given a fault, 0 to 1', (raw) => {
      const value = Number(raw);
      if (!(value >= 0 && value <= 1)) throw new InvalidArgumentError('expected a number from 0 to 1');
      return value;
    }, 0)
    .addOption(new Option('--fail-mode <mode>', 'corrupt: a flipped byte that verification must catch; cut: a dropped connection that must resume').choices(['corrupt', 'cut', 'mixed']).default('mixed'))
    .option('--stagger <ms>', 'delay between device starts', wholeNumber(0, 600_000), 0)
    .option('--seed <text>', 'reproducible serials, MACs and faults (the same seed is the same fleet)')
    .option('--no-customize', 'skip first-boot customisation')
    .option('--device-token <token>', 'device token, if the server requires one (default $PITCREW_DEVICE_TOKEN)')
    .option('--no-table', 'print progress lines instead of the live table')
    .option('--json', 'print the summary as JSON')
    .action(async (flags: SimulateFlags, command: Command) => {
      if (flags.sink && flags.diskDir) command.error('error: --sink and --disk-dir exclude each other');
      const tempDir = flags.sink || flags.diskDir ? null : await mkdtemp(join(tmpdir(), 'pitcrew-simulate-'));
      const diskDir = flags.sink ? null : (flags.diskDir ?? tempDir);
      const abort = new AbortController();
      const onSignal = () => abort.abort(new Error('simulation stopped'));
      process.once('SIGINT', onSignal);
      const live = !flags.json && flags.table && process.stdout.isTTY ? new LiveTable() : null;
      const ticker = live || flags.json ? null : new ProgressLines();
      try {
        const { devices, summary } = await runFleet(
          {
            devices: flags.devices,
            serverUrl: flags.server,
            productType: flags.productType ?? null,
            venueCode: flags.venue ?? null,
            diskDir,
            keepDisks: flags.keepDisks,
            bandwidth: flags.bandwidth ?? null,
            failRate: flags.failRate,
            failMode: flags.failMode,
            staggerMs: flags.stagger,
            seed: flags.seed,
            customize: flags.customize,
            deviceToken: flags.deviceToken ?? process.env.PITCREW_DEVICE_TOKEN ?? null,
            signal: abort.signal,
          },
          (all) => (live ? live.update(all) : ticker?.update(all)),
        );
        live?.finish(devices);
        if (flags.json) say(JSON.stringify(summary, null, 2));
        else printSummary(summary, diskDir && flags.keepDisks ? diskDir : null);
        if (summary.unexpected > 0) throw new CommanderError(1, 'pitcrew.simulate', `${summary.unexpected} device(s) did not end as planned`);
      } finally {
        process.off('SIGINT', onSignal);
        live?.stop();
        if (tempDir && !flags.keepDisks) await rm(tempDir, { recursive: true, force: true });
      }
    });
}

const PHASE_LABEL: Record<string, string> = {
  waiting: 'waiting',
  config: 'config',
  assigned: 'assigned',
  downloading: 'download',
  verifying: 'verify',
  customizing: 'customize',
  completed: 'done',
  failed: 'FAILED',
};

function progressBar(percent: number, width = 20): string {
  const filled = Math.round((Math.max(0, Math.min(100, percent)) / 100) * width);
  return `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
}

function deviceRow(device: SimulatedDevice): string {
  const s = device.state;
  const cells = [
    String(device.index + 1).padStart(4),
    device.serial.padEnd(16),
    (s.hostname ?? '-').padEnd(18),
    (PHASE_LABEL[s.phase] ?? s.phase).padEnd(9),
    `${progressBar(s.percent)} ${s.percent.toFixed(0).padStart(3)}%`,
    s.rateBps > 0 ? `${formatBytes(s.rateBps)}/s`.padStart(11) : ''.padStart(11),
    device.fault === 'none' ? '' : `[${device.fault}]`,
    isIdentifying(s) ? `IDENTIFYING (LED blinking) ${s.note}` : s.note,
  ];
  return cells.join('  ').trimEnd();
}

function countLine(devices: SimulatedDevice[]): string {
  const by = (phase: string) => devices.filter((d) => d.state.phase === phase).length;
  const active = devices.length - by('completed') - by('failed') - by('waiting');
  const rate = devices.reduce((sum, d) => sum + (d.state.phase === 'completed' || d.state.phase === 'failed' ? 0 : d.state.rateBps), 0);
  return `${by('completed')}/${devices.length} completed, ${by('failed')} failed, ${active} in progress, ${by('waiting')} waiting — ${formatBytes(rate)}/s`;
}

/** Redraws the table in place on a terminal, at most a few times a second. */
class LiveTable {
  private lines = 0;
  private dirty = false;
  private latest: SimulatedDevice[] = [];
  private readonly timer = setInterval(() => this.draw(), 250);

  update(devices: SimulatedDevice[]): void {
    this.latest = devices;
    this.dirty = true;
  }

  finish(devices: SimulatedDevice[]): void {
    this.latest = devices;
    this.dirty = true;
    this.draw();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private draw(): void {
    if (!this.dirty) return;
    this.dirty = false;
    const room = Math.max(5, (process.stdout.rows || 40) - 4);
    // A board an operator is looking for first, then busy devices, failures and the finished ones.
    const rank = (d: SimulatedDevice) => (isIdentifying(d.state) ? -1 : d.state.phase === 'failed' ? 1 : d.state.phase === 'completed' ? 2 : d.state.phase === 'waiting' ? 3 : 0);
    const shown = [...this.latest].sort((a, b) => rank(a) - rank(b) || a.index - b.index).slice(0, room);
    const rows = [countLine(this.latest), '   #  SERIAL            HOSTNAME            PHASE      PROGRESS                      RATE', ...shown.map(deviceRow)];
    if (shown.length < this.latest.length) rows.push(`  … and ${this.latest.length - shown.length} more`);
    const width = process.stdout.columns || 160;
    const text = rows.map((row) => row.slice(0, width - 1)).join('\n');
    process.stdout.write(`${this.lines ? `\x1b[${this.lines}F` : ''}\x1b[J${text}\n`);
    this.lines = rows.length;
  }
}

/** Without a terminal: one line every few seconds. */
class ProgressLines {
  private last = 0;
  private readonly identifyShown = new Map<number, number>();

  update(devices: SimulatedDevice[]): void {
    // An Identify at once, whatever the pace of the count lines: someone is waiting to see which board it is.
    for (const device of devices) {
      const until = device.state.identifyingUntil;
      if (until === null || this.identifyShown.get(device.index) === until) continue;
      this.identifyShown.set(device.index, until);
      say(`${device.state.hostname ?? device.serial} is identifying: its LED blinks for ${Math.round((until - performance.now()) / 1000)} s`);
    }
    const now = performance.now();
    if (now - this.last < 5000) return;
    this.last = now;
    say(countLine(devices));
  }
}

function printSummary(summary: FleetSummary, keptIn: string | null): void {
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  say('');
  say(`Simulated ${summary.devices} device(s): ${summary.completed} completed, ${summary.failed} failed${summary.expectedFailures ? ` (${summary.expectedFailures} by injected corruption, as planned)` : ''}.`);
  say(`Fleet makespan ${seconds(summary.makespanMs)}; ${formatBytes(summary.totalBytes)} transferred, ${formatBytes(summary.aggregateBytesPerSecond)}/s aggregate.`);
  say(`Per device: fastest ${seconds(summary.durationsMs.min)}, median ${seconds(summary.durationsMs.p50)}, p95 ${seconds(summary.durationsMs.p95)}, slowest ${seconds(summary.durationsMs.max)}; ${summary.resumes} resumed download(s).`);
  for (const failure of summary.failures) say(`  ${failure.hostname ?? failure.serial}${failure.fault === 'none' ? '' : ` [${failure.fault}]`}: ${failure.error}`);
  if (summary.unexpected > 0) say(`${summary.unexpected} device(s) did not end as planned.`);
  if (keptIn) say(`Disks kept in ${keptIn}.`);
}

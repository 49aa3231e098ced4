// Runs Debian's dnsmasq as a child process with Pitcrew's generated configuration: restarts it with growing
// pauses when it dies, and keeps its state and latest DHCP/TFTP log lines for the System page and
// /api/system/status (`netboot`).
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

export type DnsmasqState = 'stopped' | 'starting' | 'running' | 'restarting' | 'failed';

export interface DnsmasqStatus {
  state: DnsmasqState;
  pid: number | null;
  restarts: number;
  recent: string[];
}

export type SupervisorLog = (level: 'info' | 'warn' | 'error', message: string, details?: Record<string, unknown>) => void;

export interface DnsmasqSupervisorOptions {
  configFile: string;
  /** The dnsmasq program (default "dnsmasq" on PATH). */
  binary?: string;
  /** Words put before the dnsmasq command, e.g. ["ip", "netns", "exec", "deploy"]. */
  launcher?: string[];
  /** Pause before the first restart; doubles after each quick death, up to maxDelayMs. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** A run at least this long counts as healthy: the next death restarts after initialDelayMs again. */
  stableAfterMs?: number;
  /** How many log lines to keep (default 50). */
  recentLines?: number;
  /** Records the child's pid, so a dnsmasq left behind by a crashed server is stopped at the next start. */
  pidRecord?: string;
  log?: SupervisorLog;
  now?: () => Date;
}

export interface DnsmasqSupervisorEvents {
  state: [DnsmasqStatus];
  line: [string];
}

export class DnsmasqSupervisor extends EventEmitter<DnsmasqSupervisorEvents> {
  private child: ChildProcess | null = null;
  private state: DnsmasqState = 'stopped';
  private restarts = 0;
  private quickDeaths = 0;
  private startedAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private wanted = false;
  private readonly recent: string[] = [];
  private exited: Promise<void> = Promise.resolve();

  constructor(private readonly options: DnsmasqSupervisorOptions) {
    super();
  }

  status(): DnsmasqStatus {
    return { state: this.state, pid: this.child?.pid ?? null, restarts: this.restarts, recent: [...this.recent] };
  }

  /** Starts dnsmasq (idempotent). */
  start(): void {
    if (this.wanted) return;
    this.wanted = true;
    // However the server ends, its dnsmasq must not outlive it and keep answering DHCP.
    process.on('exit', this.killOnExit);
    this.stopLeftover();
    this.launch();
  }

  /** Stops dnsmasq: SIGTERM, then SIGKILL after `graceMs`. Safe to call twice. */
  async stop(graceMs = 5000): Promise<void> {
    this.wanted = false;
    process.off('exit', this.killOnExit);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.kill('SIGTERM');
      await this.exited;
      clearTimeout(kill);
    }
    this.setState('stopped');
  }

  private readonly killOnExit = (): void => {
    this.child?.kill('SIGTERM');
  };

  private launch(): void {
    const binary = this.options.binary ?? 'dnsmasq';
    // -k: stay in the foreground as our child; log to stderr, which we read; no pid file of its own.
    const args = ['--keep-in-foreground', '--log-facility=-', '--pid-file=', `--conf-file=${this.options.configFile}`];
    const [command, ...prefix] = [...(this.options.launcher ?? []), binary];
    this.setState('starting');
    const child = spawn(command, [...prefix, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.startedAt = Date.now();
    let spawnFailed: NodeJS.ErrnoException | null = null;
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        resolve();
        this.onExit(child, spawnFailed, code, signal);
      });
    });
    child.once('error', (error: NodeJS.ErrnoException) => { spawnFailed = error; });
    child.once('spawn', () => {
      this.writePidRecord(child.pid);
      this.setState('running');
      this.options.log?.('info', 'dnsmasq started', { pid: child.pid, config: this.options.configFile });
    });
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => this.remember(line));
    }
  }

  private onExit(child: ChildProcess, spawnFailed: NodeJS.ErrnoException | null, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child === child) this.child = null;
    this.clearPidRecord();
    if (!this.wanted) return;
    if (spawnFailed?.code === 'ENOENT') {
      this.remember(`pitcrew: ${this.options.launcher?.[0] ?? this.options.binary ?? 'dnsmasq'} is not installed (apt-get install dnsmasq-base); network boot is off`);
      this.options.log?.('error', 'dnsmasq is not installed; network boot is off');
      this.wanted = false;
      process.off('exit', this.killOnExit);
      this.setState('failed');
      return;
    }
    const ranFor = Date.now() - this.startedAt;
    this.quickDeaths = ranFor >= (this.options.stableAfterMs ?? 60_000) ? 0 : this.quickDeaths + 1;
    const initial = this.options.initialDelayMs ?? 1000;
    const delay = Math.min(this.options.maxDelayMs ?? 30_000, initial * 2 ** Math.max(0, this.quickDeaths - 1));
    const how = spawnFailed ? `could not start (${spawnFailed.message})` : signal ? `was killed by ${signal}` : `exited with code ${code}`;
    this.remember(`pitcrew: dnsmasq ${how}; restarting in ${(delay / 1000).toFixed(1)} s`);
    this.options.log?.('warn', `dnsmasq ${how}; restarting`, { delayMs: delay, restarts: this.restarts + 1 });
    this.setState('restarting');
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.wanted) return;
      this.restarts += 1;
      this.launch();
    }, delay);
  }

  private remember(line: string): void {
    const text = line.trimEnd();
    if (!text) return;
    const stamped = `${(this.options.now?.() ?? new Date()).toISOString()} ${text}`;
    this.recent.push(stamped);
    const keep = this.options.recentLines ?? 50;
    if (this.recent.length > keep) this.recent.splice(0, this.recent.length - keep);
    this.emit('line', stamped);
  }

  private setState(state: DnsmasqState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', this.status());
  }

  private writePidRecord(pid: number | undefined): void {
    if (!this.options.pidRecord || pid === undefined) return;
    try {
      writeFileSync(this.options.pidRecord, `${pid}\n`);
    } catch (error) {
      this.options.log?.('warn', 'could not record the dnsmasq pid', { error: (error as Error).message });
    }
  }

  private clearPidRecord(): void {
    if (this.options.pidRecord) rmSync(this.options.pidRecord, { force: true });
  }

  /** A dnsmasq recorded by an earlier run that did not stop it would hold the DHCP port: end it first. */
  private stopLeftover(): void {
    if (!this.options.pidRecord) return;
    let pid: number;
    try {
      pid = Number(readFileSync(this.options.pidRecord, 'utf8').trim());
    } catch {
      return;
    }
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (Number.isInteger(pid) && pid > 1 && cmdline.includes('dnsmasq') && cmdline.includes(this.options.configFile)) {
        process.kill(pid, 'SIGTERM');
        this.remember(`pitcrew: stopped dnsmasq ${pid} left over from an earlier run`);
      }
    } catch {
      // Not running any more.
    }
    this.clearPidRecord();
  }
}

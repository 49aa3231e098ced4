// Status reports to the server: every phase change at once (retried, in order), and progress about once a
// second. Progress never waits on the network: a slow or failed progress report is simply superseded by the
// next one, so the image keeps streaming. A 409 means the server closed the deployment (for example as stale);
// the installer then stops, since no later report can change that. The final report (completed or failed) is
// retried under `finalPolicy`, as long as a download would be: it is the one report the server cannot do without
// (without it the stale sweep marks a finished device failed), and one that still could not be delivered is kept
// as `undeliveredFinal` for the installer to say so, never dropped silently. Every answer may carry an operator's
// Identify, handed to `onIdentify`.
import type { StatusRequest } from '../contracts/device-api.js';
import { OUTCOME_DEPLOYMENT_STATUSES, type DeviceReportedStatus } from '../contracts/domain.js';
import type { GeneralizationReport } from '../contracts/generalization.js';
import { IDENTIFY_MAX_S, type CardIdentity } from '../contracts/card-health.js';
import type { InstallerErrorCode } from '../contracts/installer-errors.js';
import { InstallerError, isInstallerError } from './installer.errors.js';
import { sendStatus } from './device-api.client.js';
import { retryTransient, type RetryPolicy } from './retry.policy.js';

export interface ReportIdentity {
  deployment_id: number;
  hostname: string;
  serial: string | null;
  mac_address: string | null;
  ip_address?: string | null;
  /** The configuration answer's `deployment_token`, sent back with every report (servers that gave none: absent). */
  deployment_token?: string | null;
}

export interface ProgressSnapshot {
  progress: number;
  bytes_done: number;
  bytes_total: number;
  rate_bps: number;
  /** Seconds expected for the rest of the phase; absent while the rate is unknown. */
  eta_s?: number;
  message: string;
}

/**
 * A phase report's fields; `generalization` only in a final report, and only to a server that asked for it; the
 * card, its rates and the log's last lines where known; whether the first-boot check-in was written.
 */
export type PhaseFields = Partial<ProgressSnapshot> & {
  error_message?: string | null;
  error_code?: InstallerErrorCode | null;
  generalization?: GeneralizationReport;
  card?: CardIdentity | null;
  card_write_bps?: number | null;
  card_read_bps?: number | null;
  log_tail?: string | null;
  checkin_installed?: boolean;
};

export type ReportSender = (url: string, report: StatusRequest) => Promise<unknown>;

export interface StatusReporterOptions {
  statusUrl: string;
  identity: ReportIdentity;
  intervalMs?: number;
  /** With no new progress, the last report is repeated this often so the server does not take the device for stale. */
  keepAliveMs?: number;
  /** Retries of a phase report. */
  policy: RetryPolicy;
  /** Retries of the final report (completed or failed); by default `policy`. Give it at least the download's. */
  finalPolicy?: RetryPolicy;
  send?: ReportSender;
  deviceToken?: string | null;
  /** Told about reports that could not be delivered (they are not fatal). */
  onDeliveryProblem?: (error: unknown) => void;
  /** An answer carried an operator's Identify: blink this many seconds. */
  onIdentify?: (seconds: number) => void;
}

/** The Identify an answer carries, if any; anything malformed is no instruction. */
export function identifyOf(answer: unknown): number | null {
  const body = (answer as { body?: { identify?: { seconds?: unknown } } } | null)?.body;
  const seconds = body?.identify?.seconds;
  return typeof seconds === 'number' && Number.isInteger(seconds) && seconds > 0 ? Math.min(seconds, IDENTIFY_MAX_S) : null;
}

export class StatusReporter {
  private phase: DeviceReportedStatus = 'assigned';
  private latest: ProgressSnapshot | null = null;
  private sentLatest = true;
  private inFlight: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closedBy: InstallerError | null = null;
  private lastReport: StatusRequest | null = null;
  private lastSentAt = 0;
  private undelivered: { report: StatusRequest; error: unknown } | null = null;
  private readonly send: ReportSender;
  private sourceBytes: (() => { bytes_from_peers: number; bytes_from_server: number }) | null = null;
  readonly sent: StatusRequest[] = [];

  constructor(private readonly options: StatusReporterOptions) {
    this.send = options.send ?? ((url, report) => sendStatus(url, report, { deviceToken: options.deviceToken }));
  }

  /** The final report and why it could not be delivered, after every retry; null once it was (or before). */
  get undeliveredFinal(): { report: StatusRequest; error: unknown } | null {
    return this.undelivered;
  }

  /** Set once the server has answered 409: the deployment is final there. */
  get closedReason(): InstallerError | null {
    return this.closedBy;
  }

  /** Reports a phase change and waits for the server to take it; starts the once-a-second progress clock. */
  async reportPhase(status: DeviceReportedStatus, fields: PhaseFields = {}): Promise<void> {
    this.phase = status;
    this.latest = null;
    this.sentLatest = true;
    await this.inFlight;
    const report = this.build(status, fields);
    const final = (OUTCOME_DEPLOYMENT_STATUSES as readonly DeviceReportedStatus[]).includes(status);
    try {
      await retryTransient(() => this.deliver(report), { policy: final ? (this.options.finalPolicy ?? this.options.policy) : this.options.policy });
      if (final) this.undelivered = null;
    } catch (error) {
      if (isInstallerError(error) && error.code === 'DEPLOYMENT_CLOSED') {
        this.closedBy = error;
        throw error;
      }
      // The installation itself is fine; losing a report must not fail the device. The final one is kept.
      if (final) this.undelivered = { report, error };
      this.options.onDeliveryProblem?.(error);
    }
    if (final) this.stop();
    else this.startClock();
  }

  /** One-to-many delivery: every report from now on says where the chunk bytes came from. */
  countSourcesWith(read: () => { bytes_from_peers: number; bytes_from_server: number }): void {
    this.sourceBytes = read;
  }

  /** Records the newest progress; it is sent on the next tick of the clock. */
  updateProgress(snapshot: ProgressSnapshot): void {
    this.latest = snapshot;
    this.sentLatest = false;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Waits for a progress report still on the wire. */
  async drain(): Promise<void> {
    await this.inFlight;
  }

  private startClock(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.options.intervalMs ?? 1000);
    this.timer.unref();
  }

  private tick(): void {
    if (this.inFlight || this.closedBy) return;
    let report: StatusRequest;
    if (!this.sentLatest && this.latest) {
      report = this.build(this.phase, this.latest);
      this.sentLatest = true;
    } else if (this.lastReport && performance.now() - this.lastSentAt >= (this.options.keepAliveMs ?? 30_000)) {
      // A long fsync or customisation step: nothing new, but the device is alive.
      report = this.lastReport;
    } else {
      return;
    }
    this.inFlight = this.deliver(report)
      .catch((error: unknown) => {
        if (isInstallerError(error) && error.code === 'DEPLOYMENT_CLOSED') this.closedBy = error;
        else this.options.onDeliveryProblem?.(error);
      })
      .finally(() => {
        this.inFlight = null;
      });
  }

  private async deliver(report: StatusRequest): Promise<void> {
    this.lastSentAt = performance.now();
    const answer = await this.send(this.options.statusUrl, report);
    this.lastReport = report;
    this.sent.push(report);
    const identify = identifyOf(answer);
    if (identify !== null) this.options.onIdentify?.(identify);
  }

  private build(status: DeviceReportedStatus, fields: PhaseFields): StatusRequest {
    const { identity } = this.options;
    const report: StatusRequest = {
      status,
      deployment_id: identity.deployment_id,
      hostname: identity.hostname,
      serial: identity.serial,
      mac_address: identity.mac_address,
      error_message: fields.error_message ?? null,
    };
    if (fields.error_code) report.error_code = fields.error_code;
    if (identity.ip_address) report.ip_address = identity.ip_address;
    if (identity.deployment_token) report.deployment_token = identity.deployment_token;
    if (fields.progress !== undefined) report.progress = Math.max(0, Math.min(100, Math.round(fields.progress * 10) / 10));
    if (fields.bytes_done !== undefined) report.bytes_done = Math.round(fields.bytes_done);
    if (fields.bytes_total !== undefined) report.bytes_total = Math.round(fields.bytes_total);
    if (fields.rate_bps !== undefined) report.rate_bps = Math.max(0, Math.round(fields.rate_bps));
    if (fields.eta_s !== undefined) report.eta_s = Math.max(0, Math.min(30 * 24 * 3600, Math.round(fields.eta_s)));
    if (fields.message !== undefined) report.message = fields.message.slice(0, 2000);
    if (fields.generalization) report.generalization = fields.generalization;
    if (fields.card) report.card = fields.card;
    if (fields.card_write_bps != null) report.card_write_bps = Math.max(0, Math.round(fields.card_write_bps));
    if (fields.card_read_bps != null) report.card_read_bps = Math.max(0, Math.round(fields.card_read_bps));
    if (fields.log_tail) report.log_tail = fields.log_tail;
    if (fields.checkin_installed) report.checkin_installed = true;
    if (this.sourceBytes) Object.assign(report, this.sourceBytes());
    if (report.error_message) report.error_message = report.error_message.slice(0, 2000);
    return report;
  }
}

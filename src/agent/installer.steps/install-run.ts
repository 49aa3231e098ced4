// What every step of one installation shares once the server has answered: the configuration, the options, the
// result being filled in, the status reporter (and the activity LED it drives for Identify), the log, and the
// phase the installation is in (a failure is reported as having happened there).
import { networkInterfaces } from 'node:os';
import type { ConfigResponse } from '../../contracts/device-api.js';
import type { DeviceReportedStatus } from '../../contracts/domain.js';
import { ActivityLed } from '../activity-led.js';
import { describeError } from '../installer.errors.js';
import type { InstallerLog } from '../installer.log.js';
import type { RetryPolicy } from '../retry.policy.js';
import { StatusReporter, type PhaseFields } from '../status.reporter.js';
import type { InstallerEvent, InstallerOptions, InstallerPhase, InstallerResult } from '../installer.types.js';

export interface InstallRun {
  readonly options: InstallerOptions;
  readonly policy: RetryPolicy;
  readonly config: ConfigResponse;
  readonly result: InstallerResult;
  readonly log: InstallerLog;
  readonly reporter: StatusReporter;
  /** Blinks for Identify; null where the operator switched it off. */
  readonly led: ActivityLed | null;
  /** The phase the installation is in: a failure is reported as happening there. */
  phase: InstallerPhase;
  readonly emit: (event: InstallerEvent) => void;
  /** Enters a phase and reports it; every phase report says what card this is (the dashboard knows it from the first). */
  readonly enterPhase: (next: DeviceReportedStatus, message: string, extra?: Omit<PhaseFields, 'message'>) => Promise<void>;
  /** A warning the operator should see on the dashboard, not only on the board's console: repeated in the final report. */
  readonly warnDeployment: (message: string) => void;
}

export interface InstallRunBasis {
  options: InstallerOptions;
  policy: RetryPolicy;
  config: ConfigResponse;
  result: InstallerResult;
  log: InstallerLog;
  emit: (event: InstallerEvent) => void;
}

export function createInstallRun({ options, policy, config, result, log, emit }: InstallRunBasis): InstallRun {
  const led = options.activityLed === false ? null : new ActivityLed({ root: options.systemRoot });
  const reporter = new StatusReporter({
    statusUrl: config.status_url,
    identity: {
      deployment_id: config.deployment_id,
      hostname: config.hostname,
      serial: options.identity.serial,
      mac_address: options.identity.mac,
      ip_address: localAddress(options.identity.iface),
      deployment_token: config.deployment_token ?? null,
    },
    intervalMs: options.reportIntervalMs,
    // A lost progress or phase report is not worth holding the installation for long; the final one is: without
    // it the server's stale sweep marks a finished device failed, so it is retried as long as a download.
    policy: { ...policy, maxRetries: Math.min(policy.maxRetries, 3) },
    finalPolicy: policy,
    send: options.sendReport,
    deviceToken: options.deviceToken,
    onDeliveryProblem: (error) => emit({ type: 'warning', message: `a status report was not delivered: ${describeError(error)}` }),
    onIdentify: (seconds) => {
      emit({ type: 'identify', seconds });
      led?.identify(seconds).catch((error: unknown) => emit({ type: 'warning', message: `identify: ${describeError(error)}` }));
    },
  });
  const run: InstallRun = {
    options,
    policy,
    config,
    result,
    log,
    reporter,
    led,
    phase: 'config',
    emit,
    enterPhase: async (next, message, extra = {}) => {
      run.phase = next;
      emit({ type: 'phase', phase: next, message });
      await reporter.reportPhase(next, { message, card: result.card, ...extra });
    },
    warnDeployment: (message) => {
      result.warnings.push(message);
      emit({ type: 'warning', message });
    },
  };
  return run;
}

function localAddress(iface: string | null): string | null {
  const all = networkInterfaces();
  const candidates = iface ? (all[iface] ?? []) : Object.values(all).flat();
  return candidates.find((a) => a && a.family === 'IPv4' && !a.internal)?.address ?? null;
}

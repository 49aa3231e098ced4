// The last steps: the completed report (summary, card rates, log tail), or the failure report and the whole log;
// and, installed, serving the chunks held to devices still receiving.
import { LOG_TAIL_MAX_BYTES } from '../../contracts/card-health.js';
import { withWarnings } from '../../contracts/deployment-message.js';
import { formatBytes } from '../../contracts/format.js';
import { describeGeneralization } from '../../contracts/generalization.js';
import { sendLog } from '../device-api.client.js';
import { CHECKIN_SCRIPT_PATH } from '../first-boot.checkin.js';
import { describeError, InstallerError, isInstallerError } from '../installer.errors.js';
import type { InstallerEvent, InstallerOptions, InstallerResult } from '../installer.types.js';
import type { PeerSwarm } from '../peer.swarm.js';
import type { InstallRun } from './install-run.js';

/** Reports the installation completed, with what it did in one line, and marks the result a success. */
export async function reportCompleted(run: InstallRun, swarm: PeerSwarm | null): Promise<void> {
  const { config, result, emit, reporter } = run;
  const summary = [
    `installed ${config.version} as ${config.hostname}`,
    result.delivery === 'chunked' ? `image delivery v2 (${result.decompressMethod})` : null,
    result.customization ? (result.customization.flavour === 'none' ? 'hostname only in /etc/hostname' : `first boot via ${result.customization.flavour}`) : null,
    result.customization ? describeGeneralization(result.customization.generalization) : null,
    result.customization && config.provisioning ? `provisioned with profile revision ${config.provisioning.revision}` : null,
    `verified (${result.verifyMethod})`,
    result.resumes ? `${result.resumes} resume(s)` : null,
    result.chunksRefetched ? `${result.chunksRefetched} chunk(s) fetched again` : null,
    swarm && swarm.bytesFromPeers > 0 ? `${formatBytes(swarm.bytesFromPeers)} from peers, ${formatBytes(swarm.bytesFromServer)} from the server` : null,
    result.imageRefetched ? 'image fetched again after a checksum mismatch' : null,
  ]
    .filter(Boolean)
    .join('; ');
  // The steps themselves go to a server that knows the switch (it said `generalize`); older ones read the summary.
  const generalization = config.generalize !== undefined ? (result.customization?.generalization ?? undefined) : undefined;
  const rates = cardRatesOf(result);
  if (rates.card_write_bps !== null) {
    emit({ type: 'card', message: `card wrote at ${formatBytes(rates.card_write_bps)}/s${rates.card_read_bps !== null ? `, read back at ${formatBytes(rates.card_read_bps)}/s` : ''}` });
  }
  const checkinInstalled = result.customization?.written.includes(`root:${CHECKIN_SCRIPT_PATH}`) ? true : undefined;
  await run.enterPhase('completed', withWarnings(summary, result.warnings), { progress: 100, generalization, ...rates, log_tail: run.log.tail(LOG_TAIL_MAX_BYTES), checkin_installed: checkinInstalled });
  const undelivered = reporter.undeliveredFinal;
  if (undelivered) {
    result.finalReportDelivered = false;
    emit({
      type: 'warning',
      message: `the card is installed and verified, but the server never took the report that says so (${describeError(undelivered.error)}); it may show deployment ${config.deployment_id} (${config.hostname}) as failed until the board reports again`,
    });
  }
  result.ok = true;
  result.exitCode = 0;
}

/** Records a failure in the result, as having happened in the run's phase; the error as an InstallerError. */
export function recordFailure(run: InstallRun, error: unknown): InstallerError {
  const failure = isInstallerError(error) ? error : new InstallerError('IO', describeError(error), { cause: error });
  run.result.error = failure.message;
  run.result.errorCode = failure.code;
  run.result.failedPhase = run.phase;
  return failure;
}

/**
 * Tells the server (once the reporter is stopped and drained): the failed report and, so the operator reads on the
 * dashboard what led up to it, the whole log. Not for a deployment the server closed itself.
 */
export async function reportFailure(run: InstallRun, failure: InstallerError): Promise<void> {
  const { config, result, emit, reporter, options, policy } = run;
  emit({ type: 'phase', phase: 'failed', message: failure.message });
  if (failure.code === 'DEPLOYMENT_CLOSED') return;
  await reporter.reportPhase('failed', { error_message: failure.message, error_code: failure.code, message: withWarnings(`failed while ${run.phase}`, result.warnings), ...cardRatesOf(result) }).catch((reportError: unknown) => {
    emit({ type: 'warning', message: `the failure could not be reported: ${describeError(reportError)}` });
  });
  await sendLog(config.status_url, config.deployment_id, { deployment_token: config.deployment_token ?? null, log: run.log.text(), truncated: run.log.truncated }, {
    policy: { ...policy, maxRetries: Math.min(policy.maxRetries, 3) },
    signal: options.signal,
    deviceToken: options.deviceToken,
  }).catch((uploadError: unknown) => emit({ type: 'warning', message: `the installer log could not be sent: ${describeError(uploadError)}` }));
  const undelivered = reporter.undeliveredFinal;
  if (undelivered) {
    result.finalReportDelivered = false;
    emit({ type: 'warning', message: `the server never took the report of this failure (${describeError(undelivered.error)})` });
  }
}

/** Installed: serve the chunks held to devices still receiving, while the server says they need them. */
export async function serveOthers(swarm: PeerSwarm, options: InstallerOptions, emit: (event: InstallerEvent) => void, result: InstallerResult): Promise<void> {
  if (options.peers?.linger === false) return;
  const { lingered, lingeredMs } = await swarm.linger();
  result.lingeredMs = lingeredMs;
  if (lingered) {
    emit({ type: 'linger', message: `served ${swarm.server.have.count()} chunks to other devices for ${(lingeredMs / 1000).toFixed(1)} s after installing: ${formatBytes(swarm.server.bytesServed)} in all` });
  }
}

/** The card's rates, bytes per second, from the time it took for what it was given and for what was read back. */
function cardRatesOf(result: InstallerResult): { card_write_bps: number | null; card_read_bps: number | null } {
  const rate = (measured: { bytes: number; ms: number } | null) => (measured && measured.bytes > 0 && measured.ms > 0 ? Math.round((measured.bytes * 1000) / measured.ms) : null);
  return { card_write_bps: rate(result.cardWrites), card_read_bps: rate(result.readBack) };
}

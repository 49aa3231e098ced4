// One installation from start to finish, step by step (installer.steps/): configuration → target disk → how the
// image travels → the card opened (capacity checked) → download and write → read-back verification → first-boot
// customisation → partition table → completed. Any failure after the configuration is reported to the server as
// `failed` with its exact cause and the whole log. Used by the on-device entry (main.ts) and by the simulator.
import type { ConfigResponse } from '../contracts/device-api.js';
import { deliverChunked } from './chunked.delivery.js';
import type { DiskTarget } from './disk.target.js';
import { HOLD_BACK_BYTES, ImageWriter } from './disk.writer.js';
import { describeError, isInstallerError } from './installer.errors.js';
import { InstallerLog } from './installer.log.js';
import { DEFAULT_RETRY_POLICY } from './retry.policy.js';
import type { InstallerEvent, InstallerOptions, InstallerResult } from './installer.types.js';
import type { PeerSwarm } from './peer.swarm.js';
import { requestConfiguration } from './installer.steps/configuration.step.js';
import { createInstallRun } from './installer.steps/install-run.js';
import { choosePlacement } from './installer.steps/placement.step.js';
import { chooseDelivery } from './installer.steps/delivery.step.js';
import { openCardTarget } from './installer.steps/card-target.step.js';
import { deliverRawImage } from './installer.steps/raw-image.step.js';
import { announcePartitionTable, customizeCard } from './installer.steps/customize.step.js';
import { recordFailure, reportCompleted, reportFailure, serveOthers } from './installer.steps/outcome.step.js';

export type { FaultLayout, ImageDelivery, InstallerEvent, InstallerFaults, InstallerOptions, InstallerPhase, InstallerResult } from './installer.types.js';

export async function runInstaller(options: InstallerOptions): Promise<InstallerResult> {
  const started = performance.now();
  // Everything the installer says is kept for the server too: the whole log after a failure, the last lines after a success.
  const log = new InstallerLog(options.now);
  const emit = (event: InstallerEvent) => {
    log.record(event);
    options.onEvent?.(event);
  };
  const policy = options.retryPolicy ?? DEFAULT_RETRY_POLICY;
  const result = emptyResult();
  const finish = () => {
    result.timings.totalMs = Math.round(performance.now() - started);
    return result;
  };

  // 1. Who am I, what do I install?
  emit({ type: 'phase', phase: 'config', message: `asking ${options.serverUrl} for a configuration` });
  let config: ConfigResponse;
  try {
    config = await requestConfiguration(options, policy, emit);
  } catch (error) {
    result.exitCode = 3;
    result.error = describeError(error);
    result.errorCode = isInstallerError(error) ? error.code : 'NETWORK';
    result.failedPhase = 'config';
    return finish();
  }
  result.timings.configMs = Math.round(performance.now() - started);
  result.hostname = config.hostname;
  result.deploymentId = config.deployment_id;
  emit({ type: 'config', config });

  const run = createInstallRun({ options, policy, config, result, log, emit });
  let target: DiskTarget | null = null;
  let swarm: PeerSwarm | null = null;
  try {
    // 2. Which disk, and what card it is.
    const placement = await choosePlacement(run);
    // 3. How the image travels: chunks (from the server and other devices) or the raw image.
    const stepOptions = { ...options, target: placement.path };
    const { chunked, faults } = await chooseDelivery(run, stepOptions);
    swarm = chunked?.swarm ?? null;
    // 4. The card, opened and checked; the image's first MiB is held back until the very end.
    target = await openCardTarget(run, placement.path, chunked, faults);
    let writer = new ImageWriter(target, config.image_size);
    await writer.prepare();
    // 5. Download, write, read back.
    if (chunked) {
      await deliverChunked({ config, options: stepOptions, chunked, target, writer, reporter: run.reporter, emit, enterPhase: run.enterPhase, result, faults, policy });
    } else {
      writer = await deliverRawImage(run, target, writer, placement.path, faults);
    }
    // 6. Hostname and the rest for first boot, then the partition table, last.
    await customizeCard(run, target, writer);
    const written = target;
    await target.close();
    target = null;
    await announcePartitionTable(run, written, writer);
    // 7. Done: say so, then serve others where the swarm still needs this device's chunks.
    await reportCompleted(run, swarm);
    if (swarm) await serveOthers(swarm, options, emit, result);
    return finish();
  } catch (error) {
    const failure = recordFailure(run, error);
    run.reporter.stop();
    await run.reporter.drain();
    await target?.close().catch(() => {});
    await reportFailure(run, failure);
    return finish();
  } finally {
    run.reporter.stop();
    // An Identify under way blinks to its end (the board reboots or retries after), unless the installer is stopped.
    const { led } = run;
    if (led?.blinking && !options.signal?.aborted) await Promise.race([led.done, abortedOf(options.signal)]);
    await led?.stop();
    if (swarm) {
      result.servedBytes = swarm.server.bytesServed;
      await swarm.leave();
    }
  }
}

/** A result before anything happened: failed, exit code 1, nothing measured. */
function emptyResult(): InstallerResult {
  return {
    ok: false,
    exitCode: 1,
    hostname: null,
    deploymentId: null,
    error: null,
    errorCode: null,
    failedPhase: null,
    bytes: 0,
    resumes: 0,
    delivery: null,
    decompressMethod: null,
    chunksRefetched: 0,
    imageRefetched: false,
    peerBytes: 0,
    servedBytes: 0,
    lingeredMs: 0,
    finalReportDelivered: true,
    verifyMethod: null,
    customization: null,
    target: null,
    installerStick: null,
    card: null,
    cardWrites: null,
    readBack: null,
    warnings: [],
    timings: { configMs: 0, downloadMs: 0, verifyMs: 0, customizeMs: 0, totalMs: 0 },
  };
}

/** Resolves when `signal` aborts; never without one. */
const abortedOf = (signal: AbortSignal | undefined): Promise<void> =>
  new Promise((resolve) => signal?.addEventListener('abort', () => resolve(), { once: true }));

export { HOLD_BACK_BYTES };

// One installation from start to finish: configuration → download and write → read-back verification →
// first-boot customisation → partition table → completed. Any failure after the configuration is reported to
// the server as `failed` with its exact cause. Used by the on-device entry (main.ts) and by the simulator.
import { createHash, randomUUID } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import type { ConfigResponse } from '../contracts/device-api.js';
import type { DeviceReportedStatus } from '../contracts/domain.js';
import type { ImageManifest } from '../contracts/image-delivery.js';
import { deliverChunked, prepareChunked } from './chunked.delivery.js';
import { fetchConfig } from './device-api.client.js';
import { createSinkTarget, openDiskTarget, throttledTarget, type DiskTarget } from './disk.target.js';
import { hashDiskRange, readDiskBytes } from './disk.verifier.js';
import { HOLD_BACK_BYTES, ImageWriter } from './disk.writer.js';
import { customizeFirstBoot } from './first-boot.customizer.js';
import { createThrottle, downloadImage } from './image.downloader.js';
import { describeError, InstallerError, isInstallerError } from './installer.errors.js';
import { makeProgress, PROGRESS_SPAN, RateMeter } from './installer.progress.js';
import { parsePartitionTable } from './partition-table.parser.js';
import { rereadPartitionTable } from './partition-table.reread.js';
import { DEFAULT_RETRY_POLICY } from './retry.policy.js';
import { StatusReporter, type PhaseFields } from './status.reporter.js';
import { resolveInstallTarget } from './target-disk.chooser.js';
import type { FaultLayout, InstallerEvent, InstallerFaults, InstallerOptions, InstallerPhase, InstallerResult } from './installer.types.js';
import type { PeerSwarm } from './peer.swarm.js';
import { formatBytes } from '../contracts/format.js';
import { withWarnings } from '../contracts/deployment-message.js';
import { describeGeneralization } from '../contracts/generalization.js';
import { LOG_TAIL_MAX_BYTES, type CapacityCheck } from '../contracts/card-health.js';
import { probeCapacity } from './capacity.probe.js';
import { ActivityLed } from './activity-led.js';
import { describeCard, readCardIdentity } from './card-identity.reader.js';
import { sendLog } from './device-api.client.js';
import { InstallerLog } from './installer.log.js';
import { CHECKIN_SCRIPT_PATH, checkinSetupOf } from './first-boot.checkin.js';

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
  const result: InstallerResult = {
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
  const finish = () => {
    result.timings.totalMs = Math.round(performance.now() - started);
    return result;
  };

  // 1. Who am I, what do I install?
  let phase: InstallerPhase = 'config';
  emit({ type: 'phase', phase, message: `asking ${options.serverUrl} for a configuration` });
  let config: ConfigResponse;
  try {
    config = await fetchConfig(
      options.serverUrl,
      {
        product_type: options.productType ?? null,
        venue_code: options.venueCode ?? null,
        serial_number: options.identity.serial,
        mac_address: options.identity.mac,
        model: options.identity.model,
        timestamp: (options.now ?? Date.now)() / 1000,
      },
      {
        policy,
        signal: options.signal,
        deviceToken: options.deviceToken,
        onRetry: (n) => emit({ type: 'retry', what: 'configuration', attempt: n.attempt, delayMs: n.delayMs, reason: describeError(n.error) }),
      },
    );
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
  // Every phase report says what card this is (a handful of reports): the dashboard knows it from the first.
  const enterPhase = async (next: DeviceReportedStatus, message: string, extra: Omit<PhaseFields, 'message'> = {}) => {
    phase = next;
    emit({ type: 'phase', phase: next, message });
    await reporter.reportPhase(next, { message, card: result.card, ...extra });
  };

  // What the operator should see on the dashboard, not only on the board's console: repeated in the final report.
  const warnDeployment = (message: string) => {
    result.warnings.push(message);
    emit({ type: 'warning', message });
  };

  const size = config.image_size;
  let faults: InstallerFaults | undefined;
  let target: DiskTarget | null = null;
  let swarm: PeerSwarm | null = null;
  try {
    phase = 'assigned';
    const placement = await resolveInstallTarget(options.target, options.systemRoot, options.installerStick ?? null);
    result.target = placement.path;
    result.installerStick = placement.installerStick ?? null;
    result.card = options.card !== undefined ? options.card : placement.path === 'sink' ? null : await readCardIdentity(placement.path, options.systemRoot).catch(() => null);
    if (result.card) emit({ type: 'card', message: `card: ${describeCard(result.card, formatBytes)}` });
    await enterPhase('assigned', `installer started on ${options.identity.model ?? 'unknown model'}; target ${placement.description}`, { progress: 0, bytes_total: size, card: result.card });
    for (const warning of placement.warnings) warnDeployment(warning);

    // 2. How the image travels: v2 (the mapped ranges as zstd chunks) when the server offers it, else the raw image.
    const stepOptions = { ...options, target: placement.path };
    const chunked = options.rawOnly ? null : await prepareChunked(config, stepOptions, emit, policy);
    result.delivery = chunked ? 'chunked' : 'raw';
    swarm = chunked?.swarm ?? null;
    if (swarm) {
      const joined = swarm;
      reporter.countSourcesWith(() => ({ bytes_from_peers: joined.bytesFromPeers, bytes_from_server: joined.bytesFromServer }));
    }
    if (chunked) {
      result.decompressMethod = chunked.decompressor.method;
      const { manifest } = chunked;
      emit({
        type: 'delivery',
        delivery: 'chunked',
        detail: `image delivery v2: ${formatBytes(manifest.mapped_bytes)} mapped of ${formatBytes(size)}, ${formatBytes(manifest.compressed_bytes)} in ${manifest.chunks.length} zstd chunks (${chunked.decompressor.method})${swarm ? ', from other devices and the server' : ''}`,
      });
    } else {
      emit({ type: 'delivery', delivery: 'raw', detail: `raw image: ${formatBytes(size)}` });
    }
    faults = typeof options.faults === 'function' ? options.faults(size, faultLayout(size, chunked?.manifest ?? null)) : options.faults;

    // 3. The target: large enough for every byte to be written (refused before anything is), first and last MiB zeroed.
    const extent = chunked ? chunked.manifest.chunks.reduce((end, c) => Math.max(end, c.offset + c.raw_length), size) : size;
    target = placement.path === 'sink' ? createSinkTarget(extent) : await openDiskTarget(placement.path, extent, { systemRoot: options.systemRoot });
    if (target.kind === 'block') {
      // A disk /sys/block does not describe as a card (a loop device) is checked all the same.
      const card = result.card ?? { kind: 'other' as const, manufacturer: null, name: null, serial: null, size_bytes: target.capacity };
      result.card = { ...card, capacity_check: await checkCapacity(target, emit, warnDeployment) };
    }
    if (faults?.corruptWriteAt !== undefined) target = corruptingTarget(target, faults.corruptWriteAt, faults.corruptWriteOnce ?? false);
    if (options.cardWriteBytesPerSecond) target = throttledTarget(target, createThrottle(options.cardWriteBytesPerSecond, options.signal));
    target = timedTarget(target, (result.cardWrites = { bytes: 0, ms: 0 }));
    let writer = new ImageWriter(target, size);
    await writer.prepare();

    if (chunked) {
      await deliverChunked({ config, options: stepOptions, chunked, target, writer, reporter, emit, enterPhase, result, faults, policy });
    } else {
      await enterPhase('downloading', `downloading ${config.version} (${formatBytes(size)}) to ${placement.path}`, { progress: 0, bytes_total: size });
      const downloadStarted = performance.now();
      // A whole image that arrives with the wrong checksum is fetched once more before the device fails: a flaky
      // link (or a bad buffer on the way) is likelier than a bad master, and the report says it happened.
      for (let attempt = 1; ; attempt++) {
        const hash = createHash('sha256');
        const meter = new RateMeter();
        const progress = makeProgress(reporter, emit, 'downloading', size, meter, options.signal);
        const corruptStreamAt = attempt === 1 || !faults?.corruptStreamOnce ? faults?.corruptStreamAt : undefined;
        let streamOffset = 0;
        const download = await downloadImage({
          url: config.image_url,
          expectedSize: size,
          policy,
          stallTimeoutMs: options.stallTimeoutMs,
          maxBytesPerSecond: options.maxBytesPerSecond,
          interruptAfterBytes: attempt === 1 ? faults?.cutDownloadAfterBytes : undefined,
          signal: options.signal,
          deviceToken: options.deviceToken,
          deployment: config,
          onData: (received) => {
            let chunk = received;
            if (corruptStreamAt !== undefined && corruptStreamAt >= streamOffset && corruptStreamAt < streamOffset + chunk.length) {
              chunk = Buffer.from(chunk);
              chunk[corruptStreamAt - streamOffset]! ^= 0x01;
            }
            streamOffset += chunk.length;
            hash.update(chunk);
            const written = writer.write(chunk);
            progress(writer.bytesAccepted, 'written');
            return written;
          },
          onRetry: (n) =>
            emit({ type: 'retry', what: 'download', attempt: n.attempt, delayMs: n.delayMs, reason: `${describeError(n.error)}; resuming at byte ${n.resumeFrom}` }),
        });
        result.bytes += download.bytes;
        result.resumes += download.resumes;
        await writer.finish();
        const streamed = hash.digest('hex');
        if (streamed === config.image_checksum) break;
        if (attempt >= 2) {
          throw new InstallerError(
            'CHECKSUM_MISMATCH',
            `the downloaded image does not match its checksum, fetched twice: got sha256 ${streamed}, expected ${config.image_checksum} (is the server's copy of the image damaged?)`,
          );
        }
        const why = `the downloaded image does not match its checksum (got sha256 ${streamed}, expected ${config.image_checksum}): fetching it once more`;
        emit({ type: 'warning', message: why });
        result.imageRefetched = true;
        // From the start, onto a fresh writer: the held-back first MiB has not reached the disk, the rest is overwritten.
        writer = new ImageWriter(target, size);
        await enterPhase('downloading', why, { progress: 0, bytes_total: size });
      }
      result.timings.downloadMs = Math.round(performance.now() - downloadStarted);

      // Read back what is on the disk and compare it with the image's checksum.
      const verifyStarted = performance.now();
      if (target.path === null) {
        await enterPhase('verifying', 'hashing sink: nothing to read back, the streamed SHA-256 matches', { progress: PROGRESS_SPAN.verifying[0], bytes_total: size });
        result.verifyMethod = 'stream';
      } else {
        await enterPhase('verifying', `reading back ${formatBytes(size)} from ${target.path}`, { progress: PROGRESS_SPAN.verifying[0], bytes_total: size });
        const verifyProgress = makeProgress(reporter, emit, 'verifying', size, new RateMeter(), options.signal);
        const readBack = await hashDiskRange(target.path, writer.heldBack.length, size, {
          prefix: writer.heldBack,
          signal: options.signal,
          onProgress: (done) => verifyProgress(done, 'read back'),
        });
        result.verifyMethod = readBack.method;
        result.readBack = { bytes: size, ms: performance.now() - verifyStarted };
        if (readBack.sha256 !== config.image_checksum) {
          throw new InstallerError(
            'VERIFY_MISMATCH',
            `read-back verification failed: the disk holds sha256 ${readBack.sha256}, the image is ${config.image_checksum} (faulty or counterfeit storage?)`,
          );
        }
      }
      result.timings.verifyMs = Math.round(performance.now() - verifyStarted);
    }

    // 4. Hostname for first boot, then the partition table, last.
    const customizeStarted = performance.now();
    const customize = options.customize ?? target.path !== null;
    if (customize && target.path !== null) {
      const generalizing = config.generalize === false ? '' : 'making it a machine of its own and ';
      await enterPhase('customizing', `${generalizing}writing hostname ${config.hostname} for first boot`, { progress: PROGRESS_SPAN.customizing[0] });
      const table = parsePartitionTable(writer.heldBack);
      // A partition inside the held-back MiB cannot be edited before the table is written (rare: modern images start at 4 MiB).
      if (table.partitions.some((p) => p.startByte < writer.heldBack.length)) await writer.commitHeldBack();
      const path = target.path;
      result.customization = await customizeFirstBoot({
        devicePath: path,
        table,
        hostname: config.hostname,
        instanceId: `pitcrew-${config.deployment_id}-${randomUUID()}`,
        // An older server does not say: generalise, as the switch's default is.
        generalize: config.generalize ?? true,
        provisioning: config.provisioning ?? null,
        checkin: checkinSetupOf(config),
        readDisk: async (position, length) => (position < writer.heldBack.length ? writer.heldBack.subarray(position, position + length) : (await readDiskBytes(path, position, length)).data),
      });
      for (const warning of result.customization.warnings) warnDeployment(warning);
      await target.sync();
    } else {
      await enterPhase('customizing', target.path === null ? 'hashing sink: no disk to customise' : 'customisation skipped on request', { progress: PROGRESS_SPAN.customizing[0] });
    }
    await writer.commitHeldBack();
    if (target.path !== null) {
      const { data } = await readDiskBytes(target.path, 0, writer.heldBack.length);
      if (!data.equals(writer.heldBack)) throw new InstallerError('VERIFY_MISMATCH', 'the partition table read back from the disk differs from the image');
    }
    result.timings.customizeMs = Math.round(performance.now() - customizeStarted);
    const written = target;
    await target.close();
    target = null;
    // The kernel still lists the partitions it found when the card appeared (none on a blank one): have it read the
    // new table, so a shell on the console or a later step sees the new layout.
    if (written.kind === 'block' && written.path !== null) {
      const path = written.path;
      const problem = await (async () => rereadPartitionTable(path, parsePartitionTable(writer.heldBack).partitions))().catch((error: unknown) => describeError(error));
      if (problem) emit({ type: 'warning', message: `${problem}; the card is written and verified, it boots all the same` });
    }

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
    await enterPhase('completed', withWarnings(summary, result.warnings), { progress: 100, generalization, ...rates, log_tail: log.tail(LOG_TAIL_MAX_BYTES), checkin_installed: checkinInstalled });
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
    if (swarm) await serveOthers(swarm, options, emit, result);
    return finish();
  } catch (error) {
    const failure = isInstallerError(error) ? error : new InstallerError('IO', describeError(error), { cause: error });
    result.error = failure.message;
    result.errorCode = failure.code;
    result.failedPhase = phase;
    reporter.stop();
    await reporter.drain();
    await target?.close().catch(() => {});
    emit({ type: 'phase', phase: 'failed', message: failure.message });
    if (failure.code !== 'DEPLOYMENT_CLOSED') {
      await reporter.reportPhase('failed', { error_message: failure.message, message: withWarnings(`failed while ${phase}`, result.warnings), ...cardRatesOf(result) }).catch((reportError: unknown) => {
        emit({ type: 'warning', message: `the failure could not be reported: ${describeError(reportError)}` });
      });
      // The whole log, so the operator reads on the dashboard what led up to the failure.
      await sendLog(config.status_url, config.deployment_id, { deployment_token: config.deployment_token ?? null, log: log.text(), truncated: log.truncated }, {
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
    return finish();
  } finally {
    reporter.stop();
    // An Identify under way blinks to its end (the board reboots or retries after), unless the installer is stopped.
    if (led?.blinking && !options.signal?.aborted) await Promise.race([led.done, abortedOf(options.signal)]);
    await led?.stop();
    if (swarm) {
      result.servedBytes = swarm.server.bytesServed;
      await swarm.leave();
    }
  }
}

/** Installed: serve the chunks held to devices still receiving, while the server says they need them. */
async function serveOthers(swarm: PeerSwarm, options: InstallerOptions, emit: (event: InstallerEvent) => void, result: InstallerResult): Promise<void> {
  if (options.peers?.linger === false) return;
  const { lingered, lingeredMs } = await swarm.linger();
  result.lingeredMs = lingeredMs;
  if (lingered) {
    emit({ type: 'linger', message: `served ${swarm.server.have.count()} chunks to other devices for ${(lingeredMs / 1000).toFixed(1)} s after installing: ${formatBytes(swarm.server.bytesServed)} in all` });
  }
}

function faultLayout(size: number, manifest: ImageManifest | null): FaultLayout {
  if (!manifest) return { delivery: 'raw', wireBytes: size, writtenOffsetAt: (fraction) => Math.floor(size * fraction) };
  // Past the held-back first MiB, which reaches the disk only at the very end.
  const ranges = manifest.chunks
    .map((c) => ({ start: Math.max(c.offset, HOLD_BACK_BYTES), end: c.offset + c.raw_length }))
    .filter((r) => r.end > r.start);
  const total = ranges.reduce((sum, r) => sum + r.end - r.start, 0);
  return {
    delivery: 'chunked',
    wireBytes: manifest.compressed_bytes,
    writtenOffsetAt: (fraction) => {
      let left = Math.floor(total * fraction);
      for (const range of ranges) {
        if (left < range.end - range.start) return range.start + left;
        left -= range.end - range.start;
      }
      return Math.floor(size * fraction);
    },
  };
}

/** Wraps a target so one bit of the byte at `offset` is flipped on its way to the disk (failure injection). */
function corruptingTarget(inner: DiskTarget, offset: number, once: boolean): DiskTarget {
  let armed = true;
  return {
    ...inner,
    write: (data, position) => {
      if (armed && offset >= position && offset < position + data.length) {
        armed = !once;
        const copy = Buffer.from(data);
        copy[offset - position]! ^= 0x01;
        return inner.write(copy, position);
      }
      return inner.write(data, position);
    },
    sync: () => inner.sync(),
    close: () => inner.close(),
  };
}

/**
 * The card's capacity check (capacity.probe.ts), on block devices only: a file standing in for a card holds what it
 * says. A card that fails it is written all the same (the image may fit in what it really holds) and flagged.
 */
async function checkCapacity(target: DiskTarget, emit: (event: InstallerEvent) => void, warn: (message: string) => void): Promise<CapacityCheck> {
  if (target.path === null) return 'skipped';
  const path = target.path;
  const finding = await probeCapacity({ write: (data, position) => target.write(data, position), sync: () => target.sync(), read: async (position, length) => (await readDiskBytes(path, position, length)).data }, target.capacity);
  if (finding.check === 'ok') emit({ type: 'card', message: `capacity check passed: ${finding.markers} markers up to ${formatBytes(target.capacity)} read back as written` });
  else {
    const first = finding.bad[0]!;
    warn(
      `the card holds less than the ${formatBytes(target.capacity)} it claims: the marker written at byte ${first.offset} came back ${first.cameBackAs === null ? 'lost' : `as the one written at byte ${first.cameBackAs}`} (a counterfeit card; replace it)`,
    );
  }
  return finding.check;
}

/** Resolves when `signal` aborts; never without one. */
const abortedOf = (signal: AbortSignal | undefined): Promise<void> =>
  new Promise((resolve) => signal?.addEventListener('abort', () => resolve(), { once: true }));

/** The card's rates, bytes per second, from the time it took for what it was given and for what was read back. */
function cardRatesOf(result: InstallerResult): { card_write_bps: number | null; card_read_bps: number | null } {
  const rate = (measured: { bytes: number; ms: number } | null) => (measured && measured.bytes > 0 && measured.ms > 0 ? Math.round((measured.bytes * 1000) / measured.ms) : null);
  return { card_write_bps: rate(result.cardWrites), card_read_bps: rate(result.readBack) };
}

/**
 * Counts what the card is given and the time it is busy with it (writes and syncs, where a card's real speed shows:
 * the kernel's cache absorbs the writes, the syncs wait for the card). Overlapping writes count their time once.
 */
function timedTarget(inner: DiskTarget, measured: { bytes: number; ms: number }): DiskTarget {
  let inFlight = 0;
  let busySince = 0;
  const timed = async (work: () => Promise<void>, bytes: number) => {
    if (inFlight++ === 0) busySince = performance.now();
    try {
      await work();
      measured.bytes += bytes;
    } finally {
      if (--inFlight === 0) measured.ms += performance.now() - busySince;
    }
  };
  return {
    ...inner,
    write: (data, position) => timed(() => inner.write(data, position), data.length),
    sync: () => timed(() => inner.sync(), 0),
    close: () => inner.close(),
  };
}

function localAddress(iface: string | null): string | null {
  const all = networkInterfaces();
  const candidates = iface ? (all[iface] ?? []) : Object.values(all).flat();
  return candidates.find((a) => a && a.family === 'IPv4' && !a.internal)?.address ?? null;
}


export { HOLD_BACK_BYTES };

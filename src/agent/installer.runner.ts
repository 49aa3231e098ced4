// One installation from start to finish: configuration → download and write → read-back verification →
// first-boot customisation → partition table → completed. Any failure after the configuration is reported to
// the server as `failed` with its exact cause. Used by the on-device entry (main.ts) and by the simulator.
import { createHash, randomUUID } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import type { ConfigResponse } from '../contracts/device-api.js';
import type { DeploymentStatus, ProductType } from '../contracts/domain.js';
import { fetchConfig } from './device-api.client.js';
import { createSinkTarget, openDiskTarget, type DiskTarget } from './disk.target.js';
import { hashDiskRange, readDiskBytes, type ReadBackMethod } from './disk.verifier.js';
import { HOLD_BACK_BYTES, ImageWriter } from './disk.writer.js';
import { customizeFirstBoot, type CustomizeResult } from './first-boot.customizer.js';
import type { DeviceIdentity } from './identity.reader.js';
import { downloadImage } from './image.downloader.js';
import { describeError, InstallerError, isInstallerError } from './installer.errors.js';
import { parsePartitionTable } from './partition-table.parser.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.policy.js';
import { StatusReporter, type ReportSender } from './status.reporter.js';
import { formatBytes } from '../contracts/format.js';

export type InstallerPhase = 'config' | DeploymentStatus;

export type InstallerEvent =
  | { type: 'config'; config: ConfigResponse }
  | { type: 'phase'; phase: InstallerPhase; message: string }
  | { type: 'progress'; phase: InstallerPhase; bytesDone: number; bytesTotal: number; rateBps: number; percent: number }
  | { type: 'retry'; what: string; attempt: number; delayMs: number; reason: string }
  | { type: 'warning'; message: string };

export interface InstallerFaults {
  /** Cut the download connection once after this many bytes (it must resume). */
  cutDownloadAfterBytes?: number;
  /** Flip one bit of the byte written at this image offset (read-back verification must catch it). */
  corruptWriteAt?: number;
  /** Flip one bit of the byte received at this image offset (the streamed checksum must catch it). */
  corruptStreamAt?: number;
}

export interface InstallerOptions {
  serverUrl: string;
  /** A block device or file path, or "sink" to hash the stream and keep nothing. */
  target: string | 'sink';
  identity: DeviceIdentity;
  productType?: ProductType | null;
  venueCode?: string | null;
  retryPolicy?: RetryPolicy;
  reportIntervalMs?: number;
  stallTimeoutMs?: number;
  maxBytesPerSecond?: number;
  /** Customise for first boot (default: yes, except for the sink). */
  customize?: boolean;
  /** Failure injection; a function is given the image size once the configuration is known. */
  faults?: InstallerFaults | ((imageSize: number) => InstallerFaults);
  systemRoot?: string;
  signal?: AbortSignal;
  onEvent?: (event: InstallerEvent) => void;
  /** Shared secret of a server that requires one (PITCREW_DEVICE_TOKEN). */
  deviceToken?: string | null;
  /** Replaces the HTTP status sender (tests). */
  sendReport?: ReportSender;
}

export interface InstallerResult {
  ok: boolean;
  /** 0 completed; 1 failed after configuration (reported to the server); 3 no configuration. */
  exitCode: 0 | 1 | 3;
  hostname: string | null;
  deploymentId: number | null;
  error: string | null;
  errorCode: string | null;
  failedPhase: InstallerPhase | null;
  bytes: number;
  resumes: number;
  verifyMethod: ReadBackMethod | 'stream' | null;
  customization: CustomizeResult | null;
  timings: { configMs: number; downloadMs: number; verifyMs: number; customizeMs: number; totalMs: number };
}

// Share of the overall progress bar per phase: writing dominates, reading back is roughly half as long.
const PROGRESS_SPAN = { downloading: [0, 80], verifying: [80, 98], customizing: [98, 99] } as const;

export async function runInstaller(options: InstallerOptions): Promise<InstallerResult> {
  const started = performance.now();
  const emit = options.onEvent ?? (() => {});
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
    verifyMethod: null,
    customization: null,
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
        timestamp: Date.now() / 1000,
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

  const reporter = new StatusReporter({
    statusUrl: config.status_url,
    identity: {
      deployment_id: config.deployment_id,
      hostname: config.hostname,
      serial: options.identity.serial,
      mac_address: options.identity.mac,
      ip_address: localAddress(options.identity.iface),
    },
    intervalMs: options.reportIntervalMs,
    // A lost report is not worth holding the installation for long.
    policy: { ...policy, maxRetries: Math.min(policy.maxRetries, 3) },
    send: options.sendReport,
    deviceToken: options.deviceToken,
    onDeliveryProblem: (error) => emit({ type: 'warning', message: `a status report was not delivered: ${describeError(error)}` }),
  });
  const enterPhase = async (next: DeploymentStatus, message: string, extra: { progress?: number; bytes_total?: number } = {}) => {
    phase = next;
    emit({ type: 'phase', phase: next, message });
    await reporter.reportPhase(next, { message, ...extra });
  };

  const size = config.image_size;
  const faults = typeof options.faults === 'function' ? options.faults(size) : options.faults;
  let target: DiskTarget | null = null;
  try {
    await enterPhase('assigned', `installer started on ${options.identity.model ?? 'unknown model'}; target ${options.target}`, { progress: 0, bytes_total: size });

    // 2. Stream the image onto the disk, hashing it as it passes.
    target = options.target === 'sink' ? createSinkTarget(size) : await openDiskTarget(options.target, size, { systemRoot: options.systemRoot });
    if (faults?.corruptWriteAt !== undefined) target = corruptingTarget(target, faults.corruptWriteAt);
    const writer = new ImageWriter(target, size);
    await writer.prepare();
    await enterPhase('downloading', `downloading ${config.version} (${formatBytes(size)}) to ${options.target}`, { progress: 0, bytes_total: size });
    const downloadStarted = performance.now();
    const hash = createHash('sha256');
    const meter = new RateMeter();
    const progress = makeProgress(reporter, emit, 'downloading', size, meter, options.signal);
    const corruptStreamAt = faults?.corruptStreamAt;
    let streamOffset = 0;
    const download = await downloadImage({
      url: config.image_url,
      expectedSize: size,
      policy,
      stallTimeoutMs: options.stallTimeoutMs,
      maxBytesPerSecond: options.maxBytesPerSecond,
      interruptAfterBytes: faults?.cutDownloadAfterBytes,
      signal: options.signal,
      deviceToken: options.deviceToken,
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
    result.bytes = download.bytes;
    result.resumes = download.resumes;
    await writer.finish();
    const streamed = hash.digest('hex');
    result.timings.downloadMs = Math.round(performance.now() - downloadStarted);
    if (streamed !== config.image_checksum) {
      throw new InstallerError('CHECKSUM_MISMATCH', `the downloaded image does not match its checksum: got sha256 ${streamed}, expected ${config.image_checksum}`);
    }

    // 3. Read back what is on the disk and compare it with the image's checksum.
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
      if (readBack.sha256 !== config.image_checksum) {
        throw new InstallerError(
          'VERIFY_MISMATCH',
          `read-back verification failed: the disk holds sha256 ${readBack.sha256}, the image is ${config.image_checksum} (faulty or counterfeit storage?)`,
        );
      }
    }
    result.timings.verifyMs = Math.round(performance.now() - verifyStarted);

    // 4. Hostname for first boot, then the partition table, last.
    const customizeStarted = performance.now();
    const customize = options.customize ?? target.path !== null;
    if (customize && target.path !== null) {
      await enterPhase('customizing', `writing hostname ${config.hostname} for first boot`, { progress: PROGRESS_SPAN.customizing[0] });
      const table = parsePartitionTable(writer.heldBack);
      // A partition inside the held-back MiB cannot be edited before the table is written (rare: modern images start at 4 MiB).
      if (table.partitions.some((p) => p.startByte < writer.heldBack.length)) await writer.commitHeldBack();
      const path = target.path;
      result.customization = await customizeFirstBoot({
        devicePath: path,
        table,
        hostname: config.hostname,
        instanceId: `pitcrew-${config.deployment_id}-${randomUUID()}`,
        readDisk: async (position, length) => (position < writer.heldBack.length ? writer.heldBack.subarray(position, position + length) : (await readDiskBytes(path, position, length)).data),
      });
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
    await target.close();
    target = null;

    const summary = [
      `installed ${config.version} as ${config.hostname}`,
      result.customization ? `first boot via ${result.customization.flavour}` : null,
      `verified (${result.verifyMethod})`,
      result.resumes ? `${result.resumes} resume(s)` : null,
    ]
      .filter(Boolean)
      .join('; ');
    await enterPhase('completed', summary, { progress: 100 });
    result.ok = true;
    result.exitCode = 0;
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
      await reporter.reportPhase('failed', { error_message: failure.message, message: `failed while ${phase}` }).catch((reportError: unknown) => {
        emit({ type: 'warning', message: `the failure could not be reported: ${describeError(reportError)}` });
      });
    }
    return finish();
  } finally {
    reporter.stop();
  }
}

/** A progress callback that feeds the reporter and the event stream, and stops the work if the server closed it. */
function makeProgress(
  reporter: StatusReporter,
  emit: (event: InstallerEvent) => void,
  phase: 'downloading' | 'verifying',
  total: number,
  meter: RateMeter,
  signal?: AbortSignal,
): (done: number, verb: string) => void {
  const [from, to] = PROGRESS_SPAN[phase];
  let lastSample = -Infinity;
  let lastEmit = -Infinity;
  return (done, verb) => {
    if (reporter.closedReason) throw reporter.closedReason;
    if (signal?.aborted) return;
    const now = performance.now();
    // Called for every network chunk: the figures are refreshed ten times a second, which is plenty for a
    // report sent once a second.
    if (now - lastSample < 100 && done !== total) return;
    lastSample = now;
    meter.add(now, done);
    const percent = from + ((to - from) * done) / total;
    const rateBps = meter.rate();
    reporter.updateProgress({ progress: percent, bytes_done: done, bytes_total: total, rate_bps: rateBps, message: `${formatBytes(done)} of ${formatBytes(total)} ${verb}` });
    if (now - lastEmit >= 200 || done === total) {
      lastEmit = now;
      emit({ type: 'progress', phase, bytesDone: done, bytesTotal: total, rateBps, percent });
    }
  };
}

/** Bytes per second over the last few seconds. */
class RateMeter {
  private samples: Array<[number, number]> = [];

  add(at: number, bytes: number): void {
    this.samples.push([at, bytes]);
    while (this.samples.length > 2 && at - this.samples[0]![0] > 3000) this.samples.shift();
  }

  rate(): number {
    if (this.samples.length < 2) return 0;
    const [t0, b0] = this.samples[0]!;
    const [t1, b1] = this.samples[this.samples.length - 1]!;
    return t1 > t0 ? ((b1 - b0) * 1000) / (t1 - t0) : 0;
  }
}

/** Wraps a target so one bit of the byte at `offset` is flipped on its way to the disk (failure injection). */
function corruptingTarget(inner: DiskTarget, offset: number): DiskTarget {
  return {
    ...inner,
    write: (data, position) => {
      if (offset >= position && offset < position + data.length) {
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

function localAddress(iface: string | null): string | null {
  const all = networkInterfaces();
  const candidates = iface ? (all[iface] ?? []) : Object.values(all).flat();
  return candidates.find((a) => a && a.family === 'IPv4' && !a.internal)?.address ?? null;
}


export { HOLD_BACK_BYTES };

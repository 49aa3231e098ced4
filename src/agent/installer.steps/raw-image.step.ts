// Step 5 without chunks (v1): the raw image streamed onto the card, hashed on the way, then read back and compared
// with the image's checksum. A whole image that arrives with the wrong checksum is fetched once more before the
// device fails: a flaky link (or a bad buffer on the way) is likelier than a bad master, and the report says so.
import { createHash } from 'node:crypto';
import { formatBytes } from '../../contracts/format.js';
import type { DiskTarget } from '../disk.target.js';
import { hashDiskRange } from '../disk.verifier.js';
import { ImageWriter } from '../disk.writer.js';
import { downloadImage } from '../image.downloader.js';
import { describeError, InstallerError } from '../installer.errors.js';
import { makeProgress, PROGRESS_SPAN, RateMeter } from '../installer.progress.js';
import type { InstallerFaults } from '../installer.types.js';
import type { InstallRun } from './install-run.js';

/**
 * Downloads, writes and verifies the raw image; `destination` names the disk in messages. Resolves with the writer
 * that holds the image's first MiB back (a fresh one where the image was fetched again).
 */
export async function deliverRawImage(run: InstallRun, target: DiskTarget, prepared: ImageWriter, destination: string, faults: InstallerFaults | undefined): Promise<ImageWriter> {
  const writer = await downloadRawImage(run, target, prepared, destination, faults);
  await verifyRawImage(run, target, writer);
  return writer;
}

async function downloadRawImage(run: InstallRun, target: DiskTarget, prepared: ImageWriter, destination: string, faults: InstallerFaults | undefined): Promise<ImageWriter> {
  const { options, config, result, reporter, emit, policy } = run;
  const size = config.image_size;
  let writer = prepared;
  await run.enterPhase('downloading', `downloading ${config.version} (${formatBytes(size)}) to ${destination}`, { progress: 0, bytes_total: size });
  const downloadStarted = performance.now();
  for (let attempt = 1; ; attempt++) {
    const hash = createHash('sha256');
    const meter = new RateMeter();
    const progress = makeProgress(reporter, emit, 'downloading', size, meter, options.signal);
    const corruptStreamAt = attempt === 1 || !faults?.corruptStreamOnce ? faults?.corruptStreamAt : undefined;
    let streamOffset = 0;
    const current = writer;
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
        const written = current.write(chunk);
        progress(current.bytesAccepted, 'written');
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
    await run.enterPhase('downloading', why, { progress: 0, bytes_total: size });
  }
  result.timings.downloadMs = Math.round(performance.now() - downloadStarted);
  return writer;
}

/** Reads back what is on the disk and compares it with the image's checksum (a hashing sink has nothing to read). */
async function verifyRawImage(run: InstallRun, target: DiskTarget, writer: ImageWriter): Promise<void> {
  const { options, config, result, reporter, emit } = run;
  const size = config.image_size;
  const verifyStarted = performance.now();
  if (target.path === null) {
    await run.enterPhase('verifying', 'hashing sink: nothing to read back, the streamed SHA-256 matches', { progress: PROGRESS_SPAN.verifying[0], bytes_total: size });
    result.verifyMethod = 'stream';
  } else {
    await run.enterPhase('verifying', `reading back ${formatBytes(size)} from ${target.path}`, { progress: PROGRESS_SPAN.verifying[0], bytes_total: size });
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

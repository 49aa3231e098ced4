// Image delivery v2 for one installation: the manifest checked against the configuration, then only the mapped
// zstd chunks, each checked before it is written at its offset, then every chunk's range read back around the page
// cache. The runner (installer.runner.ts) holds the first MiB back and writes it last, as for the raw image.
import type { ConfigResponse } from '../contracts/device-api.js';
import type { DeviceReportedStatus } from '../contracts/domain.js';
import type { ImageManifest } from '../contracts/image-delivery.js';
import { formatBytes } from '../contracts/format.js';
import { createChunkDecompressor, type ChunkDecompressor } from './chunk.decompressor.js';
import { fetchChunks, fetchManifest } from './chunked-image.fetcher.js';
import { PeerSwarm } from './peer.swarm.js';
import { totalmem } from 'node:os';
import type { DiskTarget } from './disk.target.js';
import { hashDiskRanges, type DiskRange } from './disk.verifier.js';
import type { ImageWriter } from './disk.writer.js';
import { describeError, InstallerError } from './installer.errors.js';
import { makeProgress, PROGRESS_SPAN, RateMeter } from './installer.progress.js';
import type { InstallerEvent, InstallerFaults, InstallerOptions, InstallerResult } from './installer.types.js';
import type { RetryPolicy } from './retry.policy.js';
import type { StatusReporter } from './status.reporter.js';

export interface ChunkedDelivery {
  manifest: ImageManifest;
  manifestUrl: string;
  decompressor: ChunkDecompressor;
  /** One-to-many delivery, where the server offers it and the installer takes part; the runner leaves it at the end. */
  swarm: PeerSwarm | null;
}

/** The manifest, checked against the configuration, and a way to decompress; null → the raw image (v1). */
export async function prepareChunked(config: ConfigResponse, options: InstallerOptions, emit: (event: InstallerEvent) => void, policy: RetryPolicy): Promise<ChunkedDelivery | null> {
  const manifestUrl = config.image_manifest_url;
  if (!manifestUrl) return null;
  const decompressor = await createChunkDecompressor(options.decompressMethod);
  if (!decompressor) {
    emit({ type: 'warning', message: `this Node (${process.version}) has no zstd and there is no zstd program: downloading the raw image instead of chunks` });
    return null;
  }
  const manifest = await fetchManifest(manifestUrl, config, {
    policy,
    signal: options.signal,
    deviceToken: options.deviceToken,
    stallTimeoutMs: options.stallTimeoutMs,
    onRetry: (n) => emit({ type: 'retry', what: 'image manifest', attempt: n.attempt, delayMs: n.delayMs, reason: describeError(n.error) }),
  });
  if (!manifest) {
    emit({ type: 'warning', message: `the server has no manifest at ${manifestUrl} (HTTP 404): downloading the raw image` });
    return null;
  }
  return { manifest, manifestUrl, decompressor, swarm: await joinSwarm(config, manifest, options, emit) };
}

/** The image's swarm, where the server names one and the installer takes part; null means the server alone. */
async function joinSwarm(config: ConfigResponse, manifest: ImageManifest, options: InstallerOptions, emit: (event: InstallerEvent) => void): Promise<PeerSwarm | null> {
  const peers = options.peers ?? {};
  if (!config.peer_announce_url || peers.enabled === false || manifest.chunks.length === 0) return null;
  return PeerSwarm.join({
    announceUrl: config.peer_announce_url,
    deploymentId: config.deployment_id,
    deploymentToken: config.deployment_token ?? null,
    manifest,
    deviceToken: options.deviceToken,
    cacheBytes: peers.cacheBytes ?? Math.min(512 << 20, Math.floor(totalmem() / 4)),
    port: peers.port,
    host: peers.host,
    corruptServed: peers.corruptServed,
    signal: options.signal,
    onWarning: (message) => emit({ type: 'warning', message }),
  });
}

export interface ChunkedContext {
  config: ConfigResponse;
  options: InstallerOptions;
  chunked: ChunkedDelivery;
  target: DiskTarget;
  writer: ImageWriter;
  reporter: StatusReporter;
  emit: (event: InstallerEvent) => void;
  enterPhase: (next: DeviceReportedStatus, message: string, extra?: { progress?: number; bytes_total?: number }) => Promise<void>;
  result: InstallerResult;
  faults: InstallerFaults | undefined;
  policy: RetryPolicy;
}

/**
 * Image delivery v2: fetch the chunks (several in flight), write each at its offset once its hash matched, then
 * read back every chunk's range around the page cache and compare it with the chunk's hash. A range that reads
 * back wrong is fetched and written once more, then verified again; a second mismatch fails the installation.
 */
export async function deliverChunked(ctx: ChunkedContext): Promise<void> {
  const { config, options, target, writer, reporter, emit, enterPhase, result, policy } = ctx;
  const { manifest, manifestUrl, decompressor } = ctx.chunked;
  const mapped = manifest.mapped_bytes;
  const downloadStarted = performance.now();
  await enterPhase(
    'downloading',
    `downloading ${config.version}: ${formatBytes(mapped)} mapped of ${formatBytes(config.image_size)} as ${manifest.chunks.length} zstd chunks (${formatBytes(manifest.compressed_bytes)}) to ${options.target}`,
    { progress: 0, bytes_total: mapped },
  );
  const progress = makeProgress(reporter, emit, 'downloading', mapped, new RateMeter(), options.signal);
  let written = 0;
  const fetchAndWrite = (indices: number[] | undefined, onWritten: (rawLength: number) => void) =>
    fetchChunks({
      manifest,
      manifestUrl,
      indices,
      decompressor,
      chunksInFlight: options.chunksInFlight,
      policy,
      stallTimeoutMs: options.stallTimeoutMs,
      maxBytesPerSecond: options.maxBytesPerSecond,
      signal: options.signal,
      deviceToken: options.deviceToken,
      deployment: config,
      interruptAfterBytes: indices ? undefined : ctx.faults?.cutDownloadAfterBytes,
      corruptAt: ctx.faults?.corruptStreamAt,
      swarm: ctx.chunked.swarm,
      onChunk: async (_index, chunk, raw) => {
        await writer.writeAt(raw, chunk.offset);
        onWritten(chunk.raw_length);
      },
      onRetry: (n) => emit({ type: 'retry', what: n.what, attempt: n.attempt, delayMs: n.delayMs, reason: describeError(n.error) }),
    });
  const account = (fetched: Awaited<ReturnType<typeof fetchChunks>>) => {
    result.bytes += fetched.wireBytes;
    result.peerBytes += fetched.peerBytes;
    result.resumes += fetched.retries;
    result.chunksRefetched += fetched.refetched;
  };
  account(
    await fetchAndWrite(undefined, (n) => {
      written += n;
      progress(written, 'written');
    }),
  );
  await writer.finishRanges();
  result.timings.downloadMs = Math.round(performance.now() - downloadStarted);
  if (ctx.chunked.swarm) emit({ type: 'delivery', delivery: 'chunked', detail: ctx.chunked.swarm.describeTransfers() });

  const verifyStarted = performance.now();
  if (target.path === null) {
    await enterPhase('verifying', `hashing sink: nothing to read back, all ${manifest.chunks.length} chunks matched their SHA-256`, {
      progress: PROGRESS_SPAN.verifying[0],
      bytes_total: mapped,
    });
    result.verifyMethod = 'stream';
    result.timings.verifyMs = Math.round(performance.now() - verifyStarted);
    return;
  }
  const path = target.path;
  await enterPhase('verifying', `reading back ${formatBytes(mapped)} in ${manifest.chunks.length} ranges from ${path}`, { progress: PROGRESS_SPAN.verifying[0], bytes_total: mapped });
  const verifyProgress = makeProgress(reporter, emit, 'verifying', mapped, new RateMeter(), options.signal);
  const held = writer.heldBack;
  // The part of a chunk inside the held-back first MiB is checked in memory: the disk gets it last.
  const rangeOf = (index: number): DiskRange => {
    const { offset, raw_length: length } = manifest.chunks[index]!;
    const inMemory = Math.max(0, Math.min(held.length, offset + length) - offset);
    return { start: offset + inMemory, end: offset + length, prefix: inMemory > 0 ? held.subarray(offset, offset + inMemory) : undefined };
  };
  const mismatches = async (indices: number[], onProgress?: (done: number) => void): Promise<number[]> => {
    const readBack = await hashDiskRanges(path, indices.map(rangeOf), { signal: options.signal, onProgress });
    result.verifyMethod = readBack.method;
    return indices.filter((index, i) => readBack.sha256[i] !== manifest.chunks[index]!.sha256);
  };
  const all = [...manifest.chunks.keys()];
  const bad = await mismatches(all, (done) => verifyProgress(done, 'read back'));
  result.readBack = { bytes: mapped, ms: performance.now() - verifyStarted };
  if (bad.length > 0) {
    const first = manifest.chunks[bad[0]!]!;
    emit({ type: 'warning', message: `${bad.length} chunk(s) read back wrong, the first at offset ${first.offset}: writing them again` });
    account(await fetchAndWrite(bad, () => {}));
    result.chunksRefetched += bad.length;
    await writer.finishRanges();
    const still = await mismatches(bad);
    if (still.length > 0) {
      const chunk = manifest.chunks[still[0]!]!;
      throw new InstallerError(
        'VERIFY_MISMATCH',
        `the card failed verification at offset ${chunk.offset} (chunk ${still[0]}, ${chunk.raw_length} bytes): it read back wrong twice, after being written again${still.length > 1 ? `; ${still.length} chunks in all` : ''} (faulty or counterfeit storage?)`,
      );
    }
  }
  result.timings.verifyMs = Math.round(performance.now() - verifyStarted);
}

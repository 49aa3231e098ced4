// Image delivery v2, the network side: the image's manifest, then its chunks (independently decompressible zstd
// frames of at most 4 MiB raw), several in flight. Each chunk is decompressed and its SHA-256 checked before it
// is handed on to be written; a corrupt chunk is fetched again (a few times, then the installation fails naming
// it), a cut or stalled connection is retried with the usual backoff, so at most the chunks in flight are lost.
import { createHash } from 'node:crypto';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { Value } from 'typebox/value';
import type { ConfigResponse } from '../contracts/device-api.js';
import { CHUNK_RAW_BYTES, ImageManifest, type ImageChunk } from '../contracts/image-delivery.js';
import { PEER_HAVE_HEADER } from '../contracts/peer-delivery.js';
import { CorruptFrameError, type ChunkDecompressor } from './chunk.decompressor.js';
import { deploymentHeaders, deviceTokenHeaders, httpError, type DeploymentCredentials, readBodyText, sendRequest } from './http.client.js';
import { createThrottle } from './image.downloader.js';
import { InstallerError, isTransientError } from './installer.errors.js';
import { abortError, DEFAULT_RETRY_POLICY, retryTransient, type RetryNotice, type RetryPolicy } from './retry.policy.js';
import type { PeerRef, PeerSwarm } from './peer.swarm.js';

export const DEFAULT_CHUNKS_IN_FLIGHT = 4;
/**
 * A peer that sends nothing for this long is given up on (the chunk is fetched elsewhere); the server gets longer. Not
 * shorter: a peer busy writing its own card, or a crowded host, can pause for seconds and is not gone.
 */
const PEER_STALL_TIMEOUT_MS = 8000;
/** A chunk that arrives corrupt this many times in a row fails the installation. */
export const MAX_CORRUPT_ATTEMPTS = 3;
// A manifest lists ~150 bytes per 4 MiB chunk: 64 GiB of mapped data is ~2.4 MB of JSON.
const MANIFEST_LIMIT_BYTES = 64 << 20;

export interface ManifestFetchOptions {
  policy?: RetryPolicy;
  signal?: AbortSignal;
  deviceToken?: string | null;
  stallTimeoutMs?: number;
  onRetry?: (notice: RetryNotice) => void;
}

/** GET the manifest; null when the server has none (404), so the installer falls back to the raw image. */
export async function fetchManifest(url: string, config: ConfigResponse, options: ManifestFetchOptions = {}): Promise<ImageManifest | null> {
  const body = await retryTransient(
    async () => {
      const response = await sendRequest(new URL(url), {
        headers: { accept: 'application/json', ...deviceTokenHeaders(options.deviceToken), ...deploymentHeaders(config) },
        idleTimeoutMs: options.stallTimeoutMs ?? 30_000,
        signal: options.signal,
      });
      const status = response.statusCode ?? 0;
      const text = await readBodyText(response, MANIFEST_LIMIT_BYTES);
      if (status === 404) return null;
      if (status !== 200) throw httpError('fetching the image manifest failed', status, text);
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new InstallerError('BAD_RESPONSE', `the image manifest at ${url} is not JSON`);
      }
    },
    { policy: options.policy ?? DEFAULT_RETRY_POLICY, signal: options.signal, onRetry: options.onRetry },
  );
  return body === null ? null : checkManifest(body, config);
}

/** The manifest's shape, its identity against the configuration, and chunks that can be written safely. */
export function checkManifest(body: unknown, config: ConfigResponse): ImageManifest {
  if (!Value.Check(ImageManifest, body)) {
    const first = [...Value.Errors(ImageManifest, body)][0];
    throw new InstallerError('BAD_RESPONSE', `the image manifest is malformed (${first ? `${first.instancePath || '/'}: ${first.message}` : 'not an object'})`);
  }
  const manifest = body;
  if (manifest.image_sha256 !== config.image_checksum || manifest.image_size !== config.image_size) {
    throw new InstallerError(
      'BAD_RESPONSE',
      `the image manifest describes another image (sha256 ${manifest.image_sha256}, ${manifest.image_size} bytes) than the configuration (sha256 ${config.image_checksum}, ${config.image_size} bytes)`,
    );
  }
  let end = 0;
  let mapped = 0;
  for (const [index, chunk] of manifest.chunks.entries()) {
    const problem =
      chunk.offset < end
        ? `overlaps or precedes chunk ${index - 1}`
        : chunk.offset + chunk.raw_length > manifest.image_size
          ? `ends past the image's ${manifest.image_size} bytes`
          : chunk.offset % 512 !== 0
            ? 'does not start on a 512-byte sector'
            : chunk.raw_length > CHUNK_RAW_BYTES
              ? `holds more than ${CHUNK_RAW_BYTES} raw bytes`
              : chunk.compressed_length > maxFrameBytes(chunk.raw_length)
                ? `is larger compressed (${chunk.compressed_length} bytes) than zstd ever makes ${chunk.raw_length} bytes`
                : null;
    if (problem) throw new InstallerError('BAD_RESPONSE', `the image manifest's chunk ${index} (offset ${chunk.offset}, ${chunk.raw_length} bytes) ${problem}`);
    end = chunk.offset + chunk.raw_length;
    mapped += chunk.raw_length;
  }
  if (mapped !== manifest.mapped_bytes) {
    throw new InstallerError('BAD_RESPONSE', `the image manifest's chunks hold ${mapped} bytes but it announces ${manifest.mapped_bytes} mapped bytes`);
  }
  return manifest;
}

/** zstd's worst case (incompressible data stored raw) plus room for frame headers. */
const maxFrameBytes = (raw: number) => raw + (raw >> 7) + 1024;

/** Where chunk `index` is fetched: `${chunk_url}/${index}`, chunk_url resolved against the manifest's URL. */
export const chunkUrl = (manifest: ImageManifest, manifestUrl: string, index: number): URL =>
  new URL(`${manifest.chunk_url.replace(/\/$/, '')}/${index}`, manifestUrl);

export interface ChunkFetchOptions {
  manifest: ImageManifest;
  manifestUrl: string;
  /** Chunk indices to fetch (default: all). */
  indices?: number[];
  decompressor: ChunkDecompressor;
  /** Receives every chunk once, checked; several calls may run at once. */
  onChunk: (index: number, chunk: ImageChunk, raw: Buffer) => Promise<void>;
  chunksInFlight?: number;
  policy?: RetryPolicy;
  stallTimeoutMs?: number;
  /** Cap on the bytes received per second, all chunks together. */
  maxBytesPerSecond?: number;
  signal?: AbortSignal;
  deviceToken?: string | null;
  /** The configuration answer's deployment and token, sent with every chunk request to the server (never to peers). */
  deployment?: DeploymentCredentials | null;
  onRetry?: (notice: RetryNotice & { what: string }) => void;
  /** Failure injection: cut one chunk's connection once this many bytes have arrived, all chunks counted. */
  interruptAfterBytes?: number;
  /** Failure injection: flip a bit of the image byte at this offset in every copy of its chunk that arrives. */
  corruptAt?: number;
  /**
   * One-to-many delivery: where each next chunk comes from (peers or the server) and who keeps what arrived.
   * Without it every chunk comes from the server, in order.
   */
  swarm?: PeerSwarm | null;
}

export interface ChunkFetchResult {
  /** Compressed bytes received, including chunks fetched again. */
  wireBytes: number;
  /** Connections retried after a cut, a stall or a server error. */
  retries: number;
  /** Chunks that arrived corrupt and were fetched again. */
  refetched: number;
  /** Of wireBytes, those that came from other devices. */
  peerBytes: number;
}

/** Fetches, decompresses and checks the chunks, `chunksInFlight` at a time, and hands each on as it is ready. */
export async function fetchChunks(options: ChunkFetchOptions): Promise<ChunkFetchResult> {
  const { manifest } = options;
  const policy = options.policy ?? DEFAULT_RETRY_POLICY;
  const swarm = options.swarm ?? null;
  const queue = [...(options.indices ?? manifest.chunks.keys())];
  // With a swarm, chunks are picked from this set in whatever order peers make best; without, the queue's order.
  const pending = new Set(queue);
  const result: ChunkFetchResult = { wireBytes: 0, retries: 0, refetched: 0, peerBytes: 0 };
  const throttle = options.maxBytesPerSecond ? createThrottle(options.maxBytesPerSecond, options.signal) : null;
  const state = { interruptPending: options.interruptAfterBytes !== undefined };
  // The first permanent failure stops the other workers at once.
  const stop = new AbortController();
  const onOuterAbort = () => stop.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  let failure: unknown = null;
  // Hundreds of small requests: one connection per worker, kept alive, instead of a TCP handshake per chunk.
  const chunksInFlight = Math.max(1, Math.min(options.chunksInFlight ?? DEFAULT_CHUNKS_IN_FLIGHT, queue.length));
  const connections = new (chunkUrl(manifest, options.manifestUrl, 0).protocol === 'https:' ? https : http).Agent({ keepAlive: true, maxSockets: chunksInFlight });
  const peerConnections = new http.Agent({ keepAlive: true, maxSockets: 1 });

  const fetchOne = async (index: number): Promise<void> => {
    const chunk = manifest.chunks[index]!;
    const where = `chunk ${index} (image bytes ${chunk.offset}-${chunk.offset + chunk.raw_length})`;
    for (let attempt = 1; ; attempt++) {
      const frame = await retryTransient(() => getFrame(index, chunk), {
        policy,
        signal: stop.signal,
        onRetry: (notice) => {
          result.retries++;
          options.onRetry?.({ ...notice, what: where });
        },
      });
      let problem: string;
      try {
        const raw = await options.decompressor.decompress(frame, chunk.raw_length);
        const corruptAt = options.corruptAt;
        if (corruptAt !== undefined && corruptAt >= chunk.offset && corruptAt < chunk.offset + raw.length) raw[corruptAt - chunk.offset]! ^= 0x01;
        const sha256 = createHash('sha256').update(raw).digest('hex');
        if (sha256 === chunk.sha256) {
          if (stop.signal.aborted) throw abortError(stop.signal);
          swarm?.received(index, frame, null);
          return await options.onChunk(index, chunk, raw);
        }
        problem = `its bytes hash to sha256 ${sha256}, the manifest says ${chunk.sha256}`;
      } catch (error) {
        if (!(error instanceof CorruptFrameError)) throw error;
        problem = error.message;
      }
      if (attempt >= MAX_CORRUPT_ATTEMPTS) {
        throw new InstallerError('CHECKSUM_MISMATCH', `${where} arrived corrupt ${attempt} times in a row: ${problem}`);
      }
      result.refetched++;
      options.onRetry?.({ attempt, delayMs: 0, error: new Error(`arrived corrupt (${problem}); fetching it again`), what: where });
    }
  };

  /**
   * Chunk `index` from a peer, checked like any other; false (the chunk stays missing) when the peer was busy,
   * unreachable or sent bad data, which the swarm hears about. Never retried here: the next pick may choose another.
   */
  const fetchFromPeer = async (index: number, peer: PeerRef, swarm: PeerSwarm): Promise<boolean> => {
    const chunk = manifest.chunks[index]!;
    let frame: Buffer;
    try {
      const response = await sendRequest(swarm.chunkUrl(peer, index), {
        headers: { accept: 'application/zstd', ...swarm.peerHeaders() },
        idleTimeoutMs: PEER_STALL_TIMEOUT_MS,
        signal: stop.signal,
        agent: peerConnections,
      });
      const status = response.statusCode ?? 0;
      const holding = header(response, PEER_HAVE_HEADER);
      if (holding) swarm.peerHolds(peer, holding);
      if (status !== 200) {
        response.resume();
        swarm.peerDone(peer, status === 404 ? 'missing' : status === 503 || status === 403 ? 'busy' : 'unreachable', index, `HTTP ${status}`);
        return false;
      }
      frame = await readFrame(response, index, chunk);
    } catch (error) {
      if (stop.signal.aborted) throw abortError(stop.signal);
      const corrupt = error instanceof InstallerError && error.code === 'BAD_RESPONSE';
      // A cut or stalled transfer from a peer is retried like one from the server, only elsewhere.
      if (!corrupt) result.retries++;
      swarm.peerDone(peer, corrupt ? 'corrupt' : 'unreachable', index, (error as Error).message);
      return false;
    }
    let problem: string;
    try {
      const raw = await options.decompressor.decompress(frame, chunk.raw_length);
      const sha256 = createHash('sha256').update(raw).digest('hex');
      if (sha256 === chunk.sha256) {
        if (stop.signal.aborted) throw abortError(stop.signal);
        result.peerBytes += frame.length;
        swarm.received(index, frame, peer);
        swarm.peerDone(peer, 'ok', index);
        await options.onChunk(index, chunk, raw);
        return true;
      }
      problem = `its bytes hash to sha256 ${sha256}, the manifest says ${chunk.sha256}`;
    } catch (error) {
      if (!(error instanceof CorruptFrameError)) throw error;
      problem = error.message;
    }
    swarm.peerDone(peer, 'corrupt', index, problem);
    return false;
  };

  const getFrame = async (index: number, chunk: ImageChunk): Promise<Buffer> => {
    const url = chunkUrl(manifest, options.manifestUrl, index);
    const response = await sendRequest(url, {
      headers: { accept: 'application/zstd', ...deviceTokenHeaders(options.deviceToken), ...deploymentHeaders(options.deployment) },
      idleTimeoutMs: options.stallTimeoutMs ?? 30_000,
      signal: stop.signal,
      agent: connections,
    });
    const status = response.statusCode ?? 0;
    if (status !== 200) {
      const body = await readBodyText(response).catch(() => '');
      if (status === 404) throw new InstallerError('HTTP', `chunk ${index} is not on the server (HTTP 404): the image's chunks changed or were removed`, { status });
      throw httpError(`fetching chunk ${index} failed`, status, body);
    }
    const etag = header(response, 'etag');
    if (etag && etag.replace(/^W\//, '').replace(/"/g, '') !== chunk.sha256) {
      response.destroy();
      throw new InstallerError('IMAGE_CHANGED', `the server's chunk ${index} is not the manifest's (ETag ${etag}, expected "${chunk.sha256}"): the image changed during the installation`);
    }
    return readFrame(response, index, chunk);
  };

  /** The body of a chunk response: exactly the manifest's compressed length (a cut or an excess is an error). */
  const readFrame = async (response: IncomingMessage, index: number, chunk: ImageChunk): Promise<Buffer> => {
    const length = header(response, 'content-length');
    if (length !== null && Number(length) !== chunk.compressed_length) {
      response.destroy();
      throw new InstallerError('BAD_RESPONSE', `the sender offers ${length} bytes for chunk ${index}, the manifest says ${chunk.compressed_length}`);
    }
    const frame = Buffer.allocUnsafe(chunk.compressed_length);
    let received = 0;
    for await (const piece of response as AsyncIterable<Buffer>) {
      if (received + piece.length > frame.length) {
        response.destroy();
        throw new InstallerError('BAD_RESPONSE', `the sender sent more than the ${chunk.compressed_length} bytes of chunk ${index}`);
      }
      piece.copy(frame, received);
      received += piece.length;
      result.wireBytes += piece.length;
      if (state.interruptPending && result.wireBytes >= options.interruptAfterBytes!) {
        state.interruptPending = false;
        response.destroy();
        throw Object.assign(new Error(`connection cut after ${received} bytes of chunk ${index} (injected fault)`), { code: 'ECONNRESET' });
      }
      await throttle?.(piece.length);
    }
    if (received < frame.length) {
      throw Object.assign(new Error(`connection closed after ${received} of ${frame.length} bytes of chunk ${index}`), { code: 'ECONNRESET' });
    }
    return frame;
  };

  /** The next chunk and its source: the swarm's choice, or the queue's next from the server; undefined to wait. */
  const next = (): { index: number; peer: PeerRef | null } | undefined => {
    if (swarm) return swarm.pick(pending);
    const index = queue.shift();
    return index === undefined ? undefined : { index, peer: null };
  };

  const worker = async () => {
    while (pending.size > 0 && !stop.signal.aborted) {
      const picked = next();
      if (!picked) {
        if (!swarm) return;
        await swarm.changed();
        continue;
      }
      const { index, peer } = picked;
      pending.delete(index);
      try {
        if (peer && swarm) {
          if (!(await fetchFromPeer(index, peer, swarm))) pending.add(index);
        } else {
          try {
            await fetchOne(index);
          } finally {
            swarm?.serverDone();
          }
        }
      } catch (error) {
        if (!failure) {
          failure = error;
          stop.abort(error);
        }
        return;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: chunksInFlight }, worker));
  } finally {
    options.signal?.removeEventListener('abort', onOuterAbort);
    connections.destroy();
    peerConnections.destroy();
  }
  if (options.signal?.aborted) throw abortError(options.signal);
  if (failure) {
    if (isTransientError(failure)) {
      throw new InstallerError('NETWORK', `the image's chunks could not be fetched after ${policy.maxRetries} retries: ${(failure as Error).message}`, { cause: failure });
    }
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- a worker's failure passed on as it was caught
    throw failure;
  }
  return result;
}

function header(response: IncomingMessage, name: string): string | null {
  const value = response.headers[name];
  return typeof value === 'string' ? value : null;
}

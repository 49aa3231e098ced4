// Streams the image from the server, resuming with `Range` after a cut connection so no byte is fetched twice
// and the running hash stays valid. `If-Range` with the ETag makes the server send the whole file instead of
// a range of a different file if the image changed in between; that is then a permanent error.
import type { IncomingMessage } from 'node:http';
import { InstallerError, isTransientError } from './installer.errors.js';
import { deploymentHeaders, deviceTokenHeaders, httpError, type DeploymentCredentials, readBodyText, sendRequest } from './http.client.js';
import { abortError, computeBackoffMs, DEFAULT_RETRY_POLICY, sleep, type RetryNotice, type RetryPolicy } from './retry.policy.js';

export interface DownloadOptions {
  url: string;
  /** The image size from the configuration; the server must agree. */
  expectedSize: number;
  /** Receives every byte exactly once, in order. The download waits for it (back-pressure). */
  onData: (chunk: Buffer) => Promise<void> | void | undefined;
  policy?: RetryPolicy;
  /** A connection that delivers nothing for this long is dropped and resumed. */
  stallTimeoutMs?: number;
  /** Per-download bandwidth cap in bytes per second (the simulator's slow links). */
  maxBytesPerSecond?: number;
  /** Cut the first connection after this many bytes (failure injection: exercises resume). */
  interruptAfterBytes?: number;
  signal?: AbortSignal;
  onRetry?: (notice: RetryNotice & { resumeFrom: number }) => void;
  deviceToken?: string | null;
  /** The configuration answer's deployment and token, sent with every request (`deploymentHeaders`). */
  deployment?: DeploymentCredentials | null;
}

export interface DownloadResult {
  bytes: number;
  /** Connections opened after the first (resumes). */
  resumes: number;
  etag: string | null;
}

export async function downloadImage(options: DownloadOptions): Promise<DownloadResult> {
  const policy = options.policy ?? DEFAULT_RETRY_POLICY;
  const url = new URL(options.url);
  const state = { received: 0, etag: null as string | null, interruptPending: options.interruptAfterBytes !== undefined };
  const throttle = options.maxBytesPerSecond ? createThrottle(options.maxBytesPerSecond, options.signal) : null;
  let failuresInARow = 0;
  let resumes = 0;

  for (let connection = 0; state.received < options.expectedSize || connection === 0; connection++) {
    if (options.signal?.aborted) throw abortError(options.signal);
    if (connection > 0) resumes++;
    const before = state.received;
    try {
      await fetchFrom(url, state, options, throttle);
      if (state.received < options.expectedSize) {
        throw Object.assign(new Error(`connection closed after ${state.received} of ${options.expectedSize} bytes`), { code: 'ECONNRESET' });
      }
    } catch (error) {
      if (options.signal?.aborted) throw abortError(options.signal);
      if (!isTransientError(error)) throw error;
      // A connection that made progress resets the count: a long download survives many brief outages.
      failuresInARow = state.received > before ? 1 : failuresInARow + 1;
      if (failuresInARow > policy.maxRetries) {
        throw new InstallerError('NETWORK', `download failed after ${policy.maxRetries} retries at byte ${state.received}: ${(error as Error).message}`, { cause: error });
      }
      const delayMs = computeBackoffMs(failuresInARow, policy);
      options.onRetry?.({ attempt: failuresInARow, delayMs, error, resumeFrom: state.received });
      await sleep(delayMs, options.signal);
    }
  }
  return { bytes: state.received, resumes, etag: state.etag };
}

interface DownloadState {
  received: number;
  etag: string | null;
  interruptPending: boolean;
}

async function fetchFrom(url: URL, state: DownloadState, options: DownloadOptions, throttle: Throttle | null): Promise<void> {
  const headers: Record<string, string> = { accept: 'application/octet-stream', ...deviceTokenHeaders(options.deviceToken), ...deploymentHeaders(options.deployment) };
  if (state.received > 0) {
    headers.range = `bytes=${state.received}-`;
    if (state.etag) headers['if-range'] = state.etag;
  }
  const stallTimeoutMs = options.stallTimeoutMs ?? 30_000;
  const response = await sendRequest(url, { headers, idleTimeoutMs: stallTimeoutMs, signal: options.signal });
  const status = response.statusCode ?? 0;
  let skip = 0;
  if (status === 206) {
    checkContentRange(response, state.received, options.expectedSize);
  } else if (status === 200) {
    checkSameImage(response, state.etag, state.received);
    checkLength(response, options.expectedSize, 0);
    // The server ignored the range (or this is the first request): drop what we already have.
    skip = state.received;
  } else if (status === 416 && state.received >= options.expectedSize) {
    response.resume();
    return;
  } else {
    throw httpError(`downloading ${url.pathname} failed`, status, await readBodyText(response).catch(() => ''));
  }
  state.etag ??= headerValue(response, 'etag');

  // 'data' events rather than `for await`: a promise per 64 KiB chunk costs a third of loopback throughput. The
  // stream pauses only while the consumer (or the bandwidth cap) has it wait.
  await new Promise<void>((resolve, reject) => {
    let settled = false;
    let waiting = false;
    let ended = false;
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      response.destroy();
      reject(error);
    };
    const finish = () => {
      if (settled) return;
      settled = true;
      resolve();
    };
    const onPiece = (piece: Buffer): Promise<void> | undefined => {
      let chunk = piece;
      if (skip > 0) {
        const dropped = Math.min(skip, chunk.length);
        skip -= dropped;
        chunk = chunk.subarray(dropped);
        if (chunk.length === 0) return undefined;
      }
      if (state.received + chunk.length > options.expectedSize) {
        throw new InstallerError('BAD_RESPONSE', `the server sent more than the announced ${options.expectedSize} bytes`);
      }
      if (state.interruptPending && state.received + chunk.length >= options.interruptAfterBytes!) {
        state.interruptPending = false;
        const keep = Math.max(0, options.interruptAfterBytes! - state.received);
        const cut = (): never => {
          throw Object.assign(new Error(`connection cut after ${state.received} bytes (injected fault)`), { code: 'ECONNRESET' });
        };
        const delivered = keep > 0 ? deliver(chunk.subarray(0, keep), state, options, throttle) : undefined;
        return delivered ? delivered.then(cut) : cut();
      }
      return deliver(chunk, state, options, throttle);
    };
    response.on('data', (piece: Buffer) => {
      if (settled) return;
      try {
        const next = onPiece(piece);
        if (!next) return;
        waiting = true;
        response.pause();
        next.then(
          () => {
            waiting = false;
            if (ended) finish();
            else if (!settled) response.resume();
          },
          fail,
        );
      } catch (error) {
        fail(error);
      }
    });
    response.on('end', () => {
      ended = true;
      if (!waiting) finish();
    });
    response.on('error', fail);
    response.on('close', () => {
      if (!ended) fail(Object.assign(new Error(`connection closed after ${state.received} bytes`), { code: 'ECONNRESET' }));
    });
  });
}

/** Hands a chunk to the consumer; a promise only when the consumer (or the bandwidth cap) makes it wait. */
function deliver(chunk: Buffer, state: DownloadState, options: DownloadOptions, throttle: Throttle | null): Promise<void> | undefined {
  const account = (): Promise<void> | undefined => {
    state.received += chunk.length;
    return throttle ? throttle(chunk.length) : undefined;
  };
  const consumed = options.onData(chunk);
  return consumed ? consumed.then(account) : account();
}

function headerValue(response: IncomingMessage, name: string): string | null {
  const value = response.headers[name];
  return typeof value === 'string' ? value : null;
}

function checkContentRange(response: IncomingMessage, from: number, size: number): void {
  const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(headerValue(response, 'content-range') ?? '');
  if (!match || Number(match[1]) !== from || (match[3] !== '*' && Number(match[3]) !== size)) {
    response.destroy();
    throw new InstallerError('BAD_RESPONSE', `the server answered the range request from byte ${from} with Content-Range "${headerValue(response, 'content-range')}"`);
  }
}

function checkSameImage(response: IncomingMessage, knownEtag: string | null, received: number): void {
  const etag = headerValue(response, 'etag');
  if (received > 0 && knownEtag && etag && etag !== knownEtag) {
    response.destroy();
    throw new InstallerError('IMAGE_CHANGED', `the image changed on the server during the download (ETag ${knownEtag} became ${etag})`);
  }
}

function checkLength(response: IncomingMessage, size: number, from: number): void {
  const length = headerValue(response, 'content-length');
  if (length !== null && Number(length) !== size - from) {
    response.destroy();
    throw new InstallerError('BAD_RESPONSE', `the server offers ${length} bytes but the configuration says the image has ${size}`);
  }
}

export type Throttle = (bytes: number) => Promise<void> | undefined;

/** Sleeps whenever the transfer runs ahead of the cap; bursts are bounded by the chunk size. */
export function createThrottle(bytesPerSecond: number, signal?: AbortSignal): Throttle {
  const started = performance.now();
  let total = 0;
  return (bytes) => {
    total += bytes;
    const dueAt = started + (total / bytesPerSecond) * 1000;
    const wait = dueAt - performance.now();
    return wait > 1 ? sleep(wait, signal) : undefined;
  };
}

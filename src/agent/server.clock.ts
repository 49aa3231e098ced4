// A Raspberry Pi has no battery-backed clock: the network-booted installer starts near 1970 (or wherever the
// kernel's build put it). The server's clock is right, and every answer it sends carries it in its Date header.
// The installer reads it before anything that cares about the time (log lines, the configuration request's
// timestamp, files written on the card), then either sets the system clock (on the device, as root, when
// the netboot /init asks with --set-clock) or keeps the offset and adds it to its own timestamps.
import { spawn } from 'node:child_process';
import { describeError } from './installer.errors.js';
import { deviceTokenHeaders, resolveUrl, sendRequest } from './http.client.js';
import { sleep } from './retry.policy.js';

export interface ServerTime {
  /** Server clock minus local clock, in milliseconds. */
  offsetMs: number;
  /** The server's time when the answer arrived (ms since the epoch). */
  serverNowMs: number;
}

/**
 * The offset between the server's clock and ours from one answer: its Date header (whole seconds, so on average
 * half a second behind the moment it was written) against the middle of our request's round trip.
 */
export function offsetFromDateHeader(dateHeader: string | undefined, sentAtMs: number, receivedAtMs: number): number | null {
  if (!dateHeader) return null;
  const serverMs = Date.parse(dateHeader);
  if (!Number.isFinite(serverMs)) return null;
  return Math.round(serverMs + 500 - (sentAtMs + receivedAtMs) / 2);
}

export interface ReadServerTimeOptions {
  deviceToken?: string | null;
  attempts?: number;
  /** Per attempt: no answer in this long is a failed attempt. */
  timeoutMs?: number;
  delayMs?: number;
  signal?: AbortSignal;
}

/** Asks the device listener's /health for the time; null (with the reason) when no answer had a usable Date. */
export async function readServerTime(serverUrl: string, options: ReadServerTimeOptions = {}): Promise<ServerTime | { error: string }> {
  const url = resolveUrl(serverUrl, '/health');
  const attempts = options.attempts ?? 3;
  let error = 'no answer';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const sentAt = Date.now();
    try {
      const response = await sendRequest(url, { headers: deviceTokenHeaders(options.deviceToken), idleTimeoutMs: options.timeoutMs ?? 5000, signal: options.signal });
      const receivedAt = Date.now();
      response.resume();
      const offsetMs = offsetFromDateHeader(response.headers.date, sentAt, receivedAt);
      if (offsetMs !== null) return { offsetMs, serverNowMs: receivedAt + offsetMs };
      error = `the answer from ${url.host} has no usable Date header (${JSON.stringify(response.headers.date ?? null)})`;
    } catch (failure) {
      error = describeError(failure);
    }
    if (options.signal?.aborted) break;
    if (attempt < attempts) await sleep(options.delayMs ?? 1000, options.signal).catch(() => {});
  }
  return { error };
}

/** A clock running `offsetMs` ahead of the system's. */
export const clockWithOffset =
  (offsetMs: number): (() => number) =>
  () =>
    Date.now() + offsetMs;

/**
 * Sets the system clock (`date -u -s @SECONDS`: BusyBox's date in the installer, coreutils' elsewhere). Root only;
 * the on-device entry calls it, never a simulator or a test on a host.
 */
export function setSystemClock(epochMs: number, command = 'date'): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, ['-u', '-s', `@${Math.round(epochMs / 1000)}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => void (stderr += text));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(stderr.trim() || `${command} exited with ${code}`))));
  });
}

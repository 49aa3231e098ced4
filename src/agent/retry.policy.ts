// Retries with exponential backoff and jitter. A fleet of boards that lost the server at the same moment must
// not come back in lockstep, so each delay is drawn between half and all of the exponential step.
import { InstallerError, isTransientError } from './installer.errors.js';

export interface RetryPolicy {
  /** Retries after the first failure of one operation before giving up. */
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxRetries: 8, baseDelayMs: 500, maxDelayMs: 30_000 };

export interface RetryNotice {
  attempt: number;
  delayMs: number;
  error: unknown;
}

/** Delay before retry number `attempt` (1-based). */
export function computeBackoffMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(step / 2 + (random() * step) / 2);
}

/** Resolves after `ms`, or rejects as soon as the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function abortError(signal?: AbortSignal): InstallerError {
  const reason: unknown = signal?.reason;
  if (reason instanceof InstallerError) return reason;
  return new InstallerError('ABORTED', reason instanceof Error ? reason.message : 'installation aborted');
}

/** Runs `operation` until it succeeds, fails permanently, or the retries run out (then the last error is thrown). */
export async function retryTransient<T>(
  operation: (attempt: number) => Promise<T>,
  options: { policy: RetryPolicy; signal?: AbortSignal; onRetry?: (notice: RetryNotice) => void; isTransient?: (error: unknown) => boolean },
): Promise<T> {
  const isTransient = options.isTransient ?? isTransientError;
  for (let attempt = 1; ; attempt++) {
    if (options.signal?.aborted) throw abortError(options.signal);
    try {
      return await operation(attempt);
    } catch (error) {
      if (options.signal?.aborted) throw abortError(options.signal);
      if (!isTransient(error) || attempt > options.policy.maxRetries) throw error;
      const delayMs = computeBackoffMs(attempt, options.policy);
      options.onRetry?.({ attempt, delayMs, error });
      await sleep(delayMs, options.signal);
    }
  }
}

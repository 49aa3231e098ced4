import { describe, expect, it } from 'vitest';
import { InstallerError, isTransientError, isTransientStatus } from './installer.errors.js';
import { computeBackoffMs, retryTransient, sleep } from './retry.policy.js';

const policy = { maxRetries: 3, baseDelayMs: 1, maxDelayMs: 4 };

describe('retryTransient', () => {
  it('retries transient failures and returns the first success', async () => {
    const attempts: number[] = [];
    const notices: number[] = [];
    const value = await retryTransient(
      async (attempt) => {
        attempts.push(attempt);
        if (attempt < 3) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        return 'ok';
      },
      { policy, onRetry: (n) => notices.push(n.attempt) },
    );
    expect(value).toBe('ok');
    expect(attempts).toEqual([1, 2, 3]);
    expect(notices).toEqual([1, 2]);
  });

  it('stops at once on a permanent failure', async () => {
    let calls = 0;
    const permanent = new InstallerError('CONFIG_REFUSED', 'no active image');
    await expect(
      retryTransient(async () => {
        calls++;
        throw permanent;
      }, { policy }),
    ).rejects.toBe(permanent);
    expect(calls).toBe(1);
  });

  it('gives up after the allowed retries with the last error', async () => {
    let calls = 0;
    await expect(
      retryTransient(async () => {
        calls++;
        throw new InstallerError('NETWORK', `down ${calls}`, { transient: true });
      }, { policy }),
    ).rejects.toThrow('down 4');
    expect(calls).toBe(4);
  });

  it('stops waiting when aborted', async () => {
    const controller = new AbortController();
    const pending = retryTransient(
      async () => {
        throw new InstallerError('NETWORK', 'down', { transient: true });
      },
      { policy: { maxRetries: 5, baseDelayMs: 60_000, maxDelayMs: 60_000 }, signal: controller.signal, onRetry: () => controller.abort(new Error('operator stop')) },
    );
    await expect(pending).rejects.toMatchObject({ code: 'ABORTED', message: 'operator stop' });
  });
});

describe('backoff', () => {
  it('grows exponentially, capped, with jitter between half and all of the step', () => {
    const p = { maxRetries: 10, baseDelayMs: 500, maxDelayMs: 30_000 };
    expect(computeBackoffMs(1, p, () => 0)).toBe(250);
    expect(computeBackoffMs(1, p, () => 1)).toBe(500);
    expect(computeBackoffMs(3, p, () => 1)).toBe(2000);
    expect(computeBackoffMs(20, p, () => 1)).toBe(30_000);
    expect(computeBackoffMs(20, p, () => 0)).toBe(15_000);
  });

  it('sleep rejects immediately on an aborted signal', async () => {
    await expect(sleep(10_000, AbortSignal.abort())).rejects.toMatchObject({ code: 'ABORTED' });
  });
});

describe('error classification', () => {
  it('treats socket errors and 5xx/408/429 as transient, the rest as permanent', () => {
    expect(isTransientError(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isTransientError(new Error('socket hang up'))).toBe(true);
    expect(isTransientError(new Error('EACCES: permission denied'))).toBe(false);
    expect(isTransientError('text')).toBe(false);
    expect([500, 503, 408, 429].every(isTransientStatus)).toBe(true);
    expect([400, 404, 409, 416].some(isTransientStatus)).toBe(false);
  });
});

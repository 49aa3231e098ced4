import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { StatusRequest } from '../contracts/device-api.js';
import { InstallerError } from './installer.errors.js';
import { StatusReporter, type ReportSender } from './status.reporter.js';

const identity = { deployment_id: 3, hostname: 'KXP2-CORO-003', serial: 'abc', mac_address: 'dc:a6:32:00:00:03' };
const policy = { maxRetries: 2, baseDelayMs: 1, maxDelayMs: 2 };
const progress = (done: number) => ({ progress: done / 10, bytes_done: done, bytes_total: 1000, rate_bps: 100, message: `${done}` });

describe('StatusReporter', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends phases at once and progress at most once per interval, newest first', async () => {
    const sent: StatusRequest[] = [];
    const reporter = new StatusReporter({ statusUrl: 'http://x/api/status', identity, policy, intervalMs: 1000, send: async (_u, r) => void sent.push(r) });
    await reporter.reportPhase('downloading', { message: 'go', bytes_total: 1000 });
    expect(sent).toEqual([{ status: 'downloading', ...identity, error_message: null, bytes_total: 1000, message: 'go' }]);

    for (let done = 1; done <= 500; done++) reporter.updateProgress(progress(done));
    await vi.advanceTimersByTimeAsync(999);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent).toHaveLength(2);
    expect(sent[1]).toMatchObject({ status: 'downloading', bytes_done: 500, progress: 50, rate_bps: 100 });

    // Nothing new: nothing sent.
    await vi.advanceTimersByTimeAsync(5000);
    expect(sent).toHaveLength(2);
    reporter.updateProgress(progress(900));
    await vi.advanceTimersByTimeAsync(1000);
    expect(sent.at(-1)).toMatchObject({ bytes_done: 900 });

    await reporter.reportPhase('completed', { progress: 100 });
    reporter.updateProgress(progress(1000));
    await vi.advanceTimersByTimeAsync(5000);
    expect(sent.at(-1)).toMatchObject({ status: 'completed', progress: 100 });
  });

  it('never lets a slow progress report hold up the next phase report or overtake it', async () => {
    const order: string[] = [];
    let release!: () => void;
    const send: ReportSender = async (_u, r) => {
      if (r.bytes_done === 10) await new Promise<void>((resolve) => (release = resolve));
      order.push(`${r.status}:${r.bytes_done ?? '-'}`);
    };
    const reporter = new StatusReporter({ statusUrl: 'http://x', identity, policy, intervalMs: 100, send });
    await reporter.reportPhase('downloading');
    reporter.updateProgress(progress(10));
    await vi.advanceTimersByTimeAsync(100);
    const phase = reporter.reportPhase('verifying');
    release();
    await phase;
    expect(order).toEqual(['downloading:-', 'downloading:10', 'verifying:-']);
  });

  it('retries a phase report, and shrugs off one that cannot be delivered', async () => {
    vi.useRealTimers(); // the retry backoff sleeps for real (a few ms)
    let calls = 0;
    const problems: unknown[] = [];
    const reporter = new StatusReporter({
      statusUrl: 'http://x',
      identity,
      policy,
      send: async () => {
        calls++;
        throw new InstallerError('NETWORK', 'down', { transient: true });
      },
      onDeliveryProblem: (e) => problems.push(e),
    });
    await reporter.reportPhase('downloading');
    expect(calls).toBe(3);
    expect(problems).toHaveLength(1);
    reporter.stop();
  });

  it('records a 409 as the deployment being closed', async () => {
    const closed = new InstallerError('DEPLOYMENT_CLOSED', 'the server has closed this deployment: stale', { status: 409 });
    let refuse = false;
    const reporter = new StatusReporter({
      statusUrl: 'http://x',
      identity,
      policy,
      intervalMs: 10,
      send: async () => {
        if (refuse) throw closed;
      },
    });
    await reporter.reportPhase('downloading');
    refuse = true;
    reporter.updateProgress(progress(1));
    await vi.advanceTimersByTimeAsync(10);
    await reporter.drain();
    expect(reporter.closedReason).toBe(closed);
    await expect(reporter.reportPhase('verifying')).rejects.toBe(closed);
  });

  it('repeats the last report while nothing changes for long, so the server does not mark the device stale', async () => {
    const sent: StatusRequest[] = [];
    const reporter = new StatusReporter({ statusUrl: 'http://x', identity, policy, intervalMs: 1000, keepAliveMs: 30_000, send: async (_u, r) => void sent.push(r) });
    await reporter.reportPhase('customizing', { message: 'writing hostname' });
    await vi.advanceTimersByTimeAsync(29_000);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(sent).toHaveLength(2);
    expect(sent[1]).toEqual(sent[0]);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(sent).toHaveLength(3);
    reporter.stop();
  });

  it('clamps and rounds what it sends', async () => {
    const sent: StatusRequest[] = [];
    const reporter = new StatusReporter({ statusUrl: 'http://x', identity, policy, send: async (_u, r) => void sent.push(r) });
    await reporter.reportPhase('failed', { progress: 140.123, rate_bps: -5, error_message: 'x'.repeat(3000) });
    expect(sent[0]).toMatchObject({ progress: 100, rate_bps: 0 });
    expect(sent[0]!.error_message).toHaveLength(2000);
  });
});

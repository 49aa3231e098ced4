import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { StatusRequest } from '../contracts/device-api.js';
import { InstallerError } from './installer.errors.js';
import { DEFAULT_RETRY_POLICY } from './retry.policy.js';
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

  it('retries the final report through a 13 s outage, as long as a download would, where a phase report gives up after 3.5 s (#16)', async () => {
    const sent: StatusRequest[] = [];
    const problems: unknown[] = [];
    let serverBackAt = 0;
    const send: ReportSender = async (_u, r) => {
      if (Date.now() < serverBackAt) throw new InstallerError('NETWORK', 'connect ECONNREFUSED', { transient: true });
      sent.push(r);
    };
    // As the installer sets it up: phase reports with 3 retries, the final one with the download's policy.
    const reporter = new StatusReporter({
      statusUrl: 'http://x', identity, policy: { ...DEFAULT_RETRY_POLICY, maxRetries: 3 }, finalPolicy: DEFAULT_RETRY_POLICY, send, onDeliveryProblem: (e) => problems.push(e),
    });
    serverBackAt = Date.now() + 13_000;
    const phase = reporter.reportPhase('verifying');
    await vi.advanceTimersByTimeAsync(13_000);
    await phase;
    expect(sent).toEqual([]);
    expect(problems).toHaveLength(1);
    expect(reporter.undeliveredFinal).toBeNull();

    serverBackAt = Date.now() + 13_000;
    const final = reporter.reportPhase('completed', { progress: 100 });
    await vi.advanceTimersByTimeAsync(60_000);
    await final;
    expect(sent).toEqual([expect.objectContaining({ status: 'completed', progress: 100 })]);
    expect(problems).toHaveLength(1);
    expect(reporter.undeliveredFinal).toBeNull();
  });

  it('keeps a final report it could not deliver after every retry, to be told, not dropped', async () => {
    const problems: unknown[] = [];
    const reporter = new StatusReporter({
      statusUrl: 'http://x', identity, policy, finalPolicy: { maxRetries: 4, baseDelayMs: 10, maxDelayMs: 20 },
      send: async () => { throw new InstallerError('NETWORK', 'connect ECONNREFUSED', { transient: true }); },
      onDeliveryProblem: (e) => problems.push(e),
    });
    const final = reporter.reportPhase('completed', { progress: 100 });
    await vi.advanceTimersByTimeAsync(1000);
    await final;
    expect(problems).toHaveLength(1);
    expect(reporter.undeliveredFinal).toMatchObject({ report: { status: 'completed', deployment_id: 3 }, error: expect.objectContaining({ message: expect.stringContaining('ECONNREFUSED') }) });
  });

  it('sends the deployment token of the configuration answer back with every report (#16)', async () => {
    const sent: StatusRequest[] = [];
    const reporter = new StatusReporter({ statusUrl: 'http://x', identity: { ...identity, deployment_token: 't'.repeat(32) }, policy, intervalMs: 100, send: async (_u, r) => void sent.push(r) });
    await reporter.reportPhase('downloading');
    reporter.updateProgress(progress(10));
    await vi.advanceTimersByTimeAsync(100);
    await reporter.reportPhase('completed');
    expect(sent.map((r) => r.deployment_token)).toEqual(['t'.repeat(32), 't'.repeat(32), 't'.repeat(32)]);
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

describe('instructions in status answers', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('hands an Identify to the installer from a phase answer and from a progress answer, and nothing malformed', async () => {
    const answers: unknown[] = [
      { status: 200, body: { received: true, identify: { seconds: 30 } } },
      { status: 200, body: { received: true } },
      { status: 200, body: { received: true, identify: { seconds: 'long' } } },
      { status: 200, body: { received: true, identify: { seconds: -5 } } },
      { status: 200, body: { received: true, identify: { seconds: 86_400 } } },
      undefined,
    ];
    const identified: number[] = [];
    const reporter = new StatusReporter({ statusUrl: 'http://x/api/status', identity, policy, intervalMs: 1000, send: async () => answers.shift(), onIdentify: (s) => identified.push(s) });
    await reporter.reportPhase('downloading', { message: 'go', card: { kind: 'sd', manufacturer: 'SanDisk', name: 'SN32G', serial: null, size_bytes: 32e9 } });
    for (let done = 1; done <= 5; done++) {
      reporter.updateProgress(progress(done * 100));
      await vi.advanceTimersByTimeAsync(1000);
    }
    // A day is more than anyone asked for: held to the longest an operator may ask (300 s).
    expect(identified).toEqual([30, 300]);
    expect(reporter.sent[0]).toMatchObject({ card: { kind: 'sd', manufacturer: 'SanDisk' } });
    reporter.stop();
  });
});

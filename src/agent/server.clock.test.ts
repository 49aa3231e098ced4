// A Pi boots with its clock near 1970. The host running these tests has a right clock, so the server here runs
// as far ahead of it as a real server is ahead of a freshly booted Pi: the offset the installer must find.
import { createServer, type Server } from 'node:http';
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAgentBundle } from './test-support/agent-e2e.harness.js';
import { makeTempDir } from '../disk-layout/test-support/disk-image.builder.js';
import { clockWithOffset, offsetFromDateHeader, readServerTime } from './server.clock.js';

const run = promisify(execFile);
/** How far a real server is ahead of a board whose clock starts at the epoch. */
const AHEAD_MS = Date.now();

describe('offsetFromDateHeader', () => {
  it('compares the Date (whole seconds, half a second short on average) with the middle of the round trip', () => {
    expect(offsetFromDateHeader('Tue, 01 Dec 2026 15:00:00 GMT', 1000, 1400)).toBe(Date.parse('2026-12-01T15:00:00.500Z') - 1200);
    expect(offsetFromDateHeader(undefined, 0, 0)).toBeNull();
    expect(offsetFromDateHeader('yesterday', 0, 0)).toBeNull();
  });

  it('gives a clock that runs with the system clock, offset', () => {
    const now = clockWithOffset(-60_000)();
    expect(Math.abs(now - (Date.now() - 60_000))).toBeLessThan(50);
  });
});

describe('the server time', () => {
  let server: Server;
  let url: string;
  let dir: string;
  const configRequests: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    dir = await makeTempDir('pitcrew-clock-');
    server = createServer((request, response) => {
      // Node's own Date header is the host's clock; this server's clock is AHEAD_MS ahead of it.
      response.sendDate = false;
      response.setHeader('date', new Date(Date.now() + AHEAD_MS).toUTCString());
      if (request.url === '/health') return void response.end(JSON.stringify({ status: 'ok', version: 'test', uptime_s: 1 }));
      if (request.url === '/no-date/health') {
        response.removeHeader('date');
        return void response.end('{}');
      }
      const body: Buffer[] = [];
      request.on('data', (chunk: Buffer) => body.push(chunk));
      request.on('end', () => {
        if (request.url === '/api/config') configRequests.push(JSON.parse(Buffer.concat(body).toString('utf8')) as Record<string, unknown>);
        response.statusCode = 409;
        response.setHeader('content-type', 'application/json');
        response.end(JSON.stringify({ success: false, error: 'No active image for KXP2', code: 'NO_ACTIVE_IMAGE' }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('is read from the Date header of /health', async () => {
    const time = await readServerTime(url);
    if ('error' in time) throw new Error(time.error);
    // Whole seconds in the header: within a second of the truth, either way.
    expect(Math.abs(time.offsetMs - AHEAD_MS)).toBeLessThanOrEqual(1000);
    expect(Math.abs(time.serverNowMs - (Date.now() + AHEAD_MS))).toBeLessThanOrEqual(1100);
  });

  it('says why when there is no usable answer', async () => {
    expect(await readServerTime(`${url}/no-date`, { attempts: 1 })).toEqual({ error: expect.stringMatching(/no usable Date header \(null\)/) });
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    expect(await readServerTime(`http://127.0.0.1:${port}`, { attempts: 2, delayMs: 10 })).toEqual({ error: expect.stringMatching(/ECONNREFUSED|refused/) });
  });

  it('dates the installer bundle\'s log lines and configuration request when it does not set the clock', async () => {
    const bundle = await buildAgentBundle(join(dir, 'pitcrew-agent.mjs'));
    // No --set-clock (a host, as here): the system clock is left alone and the server's time is used instead.
    const failure = await run(process.execPath, [bundle, '--server', url, '--target', join(dir, 'disk.img'), '--serial', '10000000c10c0001', '--no-reboot', '--json']).catch(
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(failure).toMatchObject({ code: 3 });
    const { stdout, stderr } = failure;
    const lines = `${stdout}${stderr}`
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { time: string; level: string; msg: string });
    const serverNow = Date.now() + AHEAD_MS;
    expect(lines[0]!.msg).toMatch(/^this board's clock is \d+ days behind the server's; using the server's time$/);
    for (const line of lines) expect(Math.abs(Date.parse(line.time) - serverNow), line.msg).toBeLessThan(30_000);
    expect(lines.at(-1)!.msg).toMatch(/HTTP 409 NO_ACTIVE_IMAGE/);
    expect(configRequests).toHaveLength(1);
    expect(Math.abs((configRequests[0]!.timestamp as number) * 1000 - serverNow)).toBeLessThan(30_000);
  });
});

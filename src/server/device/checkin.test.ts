// First-boot check-in on the real server: the config answer's one-time check-in token, POST /api/checkin, and the
// "not booted" flag of written cards that stay silent past their deadline.
import { afterEach, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, DeploymentBootEvent, ServerToClientEvents } from '../../contracts/events.js';
import { startStaleSweeper } from '../stale-sweeper.js';
import { activateTestImage, startTestServer, waitFor, type TestServer } from '../test-support/test-server.js';

let t: TestServer;
let clock = Date.parse('2026-06-01T10:00:00.000Z');
afterEach(async () => t.close());

const DEADLINE_S = 600;

/** `now` defaults to the test's clock, which moves only when a test moves it. */
async function start(overrides: Parameters<typeof startTestServer>[0] = {}, now = () => new Date(clock)) {
  clock = Date.parse('2026-06-01T10:00:00.000Z');
  t = await startTestServer({ bootDeadlineSeconds: DEADLINE_S, ...overrides }, { now });
  t.server.core.venues.create({ code: 'CORO', name: 'Coronado' });
  t.server.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-5' });
  await activateTestImage(t.server, 'KXP2', '2.4.1');
}

const askConfig = async (serial: string) => {
  const answer = await t.device.post('/api/config', { product_type: 'KXP2', venue_code: 'CORO', serial_number: serial });
  expect(answer.status).toBe(200);
  return answer.body;
};

/** A device that asks, installs and reports completion with the check-in added. */
async function written(serial = '10000000aa01', checkinInstalled = true) {
  const config = await askConfig(serial);
  const done = await t.device.post('/api/status', { deployment_id: config.deployment_id, deployment_token: config.deployment_token, status: 'completed', checkin_installed: checkinInstalled });
  expect(done.status).toBe(200);
  return config;
}

const checkinBody = (config: { deployment_id: number; checkin_token: string; hostname: string }, extra: Record<string, unknown> = {}) => ({
  deployment_id: config.deployment_id,
  checkin_token: config.checkin_token,
  hostname: config.hostname,
  serial_number: '10000000aa01',
  mac_address: 'dc:a6:32:01:02:03',
  ip_addresses: ['10.20.0.31', 'fd00::31'],
  os_release: 'Debian GNU/Linux 13 (trixie)',
  image_version: '2.4.1',
  uptime_s: 42,
  boot_time_unit_s: 1_600_000_000,
  ...extra,
});

const checkIn = (body: Record<string, unknown>) => t.device.post('/api/checkin', body);
const deployment = (id: number) => t.server.core.deployments.get(id);
const attentionIds = async () => (await t.as.viewer.get('/api/deployments?attention=true')).body.items.map((d: { id: number }) => d.id);
const refusals = () => t.server.db.prepare("SELECT target, details FROM audit_log WHERE action = 'deployment.checkin_refused' ORDER BY id").all() as Array<{ target: string; details: string }>;

describe('the check-in token', () => {
  it('comes with the configuration answer, distinct from the status token, kept only as a hash, with the check-in URL', async () => {
    await start();
    const config = await askConfig('10000000aa01');
    expect(config.checkin_token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(config.checkin_token).not.toBe(config.deployment_token);
    expect(config.checkin_url).toBe(`${t.deviceUrl}/api/checkin`);
    expect(config.checkin_retry_s).toBe(24 * 3600);
    const stored = t.server.db.prepare('SELECT checkin_token_sha256, checkin_used_at FROM deployment_tokens WHERE deployment_id = ?').get(config.deployment_id);
    expect(stored).toEqual({ checkin_token_sha256: expect.stringMatching(/^[0-9a-f]{64}$/), checkin_used_at: null });
  });

  it('points at PITCREW_CHECKIN_URL when the units boot on a network that reaches the server elsewhere', async () => {
    await start({ checkinUrl: 'https://pitcrew.venue.example:8443/', checkinRetrySeconds: 7200 });
    const config = await askConfig('10000000aa01');
    expect(config.checkin_url).toBe('https://pitcrew.venue.example:8443/api/checkin');
    expect(config.checkin_retry_s).toBe(7200);
  });
});

describe('the check-in deadline', () => {
  it('is exactly the boot deadline after the recorded completion, however the clock moves while the report is handled', async () => {
    await start({}, () => new Date(clock++)); // a millisecond on every reading
    const config = await written();
    const { completed_at, checkin_due_at } = deployment(config.deployment_id);
    expect(Date.parse(checkin_due_at!) - Date.parse(completed_at!)).toBe(DEADLINE_S * 1000);
  });
});

describe('POST /api/checkin', () => {
  it('records the boot by the server clock less the uptime, and the facts the system reported', async () => {
    await start();
    const config = await written();
    expect(deployment(config.deployment_id).checkin_due_at).toBe('2026-06-01T10:10:00.000Z');
    clock += 5 * 60_000;
    const answer = await checkIn(checkinBody(config, { mac_address: 'DC-A6-32-01-02-03' }));
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ received: true, deployment_id: config.deployment_id, hostname: config.hostname, booted_at: '2026-06-01T10:04:18.000Z' });
    expect(deployment(config.deployment_id)).toMatchObject({ status: 'completed', booted_at: '2026-06-01T10:04:18.000Z', not_booted_at: null });
    const facts = await t.as.viewer.get(`/api/deployments/${config.deployment_id}/checkin`);
    expect(facts.body.checkin).toEqual({
      deployment_id: config.deployment_id,
      received_at: '2026-06-01T10:05:00.000Z',
      booted_at: '2026-06-01T10:04:18.000Z',
      source_ip: '127.0.0.1',
      hostname: config.hostname,
      serial_number: '10000000aa01',
      mac_address: 'dc:a6:32:01:02:03',
      ip_addresses: ['10.20.0.31', 'fd00::31'],
      os_release: 'Debian GNU/Linux 13 (trixie)',
      image_version: '2.4.1',
      boot_time_unit: '2020-09-13T12:26:40.000Z',
    });
    clock += DEADLINE_S * 1000;
    expect(t.server.core.checkins.sweepNotBooted()).toEqual([]);
    expect(await attentionIds()).toEqual([]);
  });

  it('refuses a replayed check-in, and of concurrent ones takes exactly one', async () => {
    await start();
    const config = await written();
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => checkIn(checkinBody(config, { uptime_s: 40 + i }))));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409, 409, 409, 409, 409]);
    const bootedAt = deployment(config.deployment_id).booted_at;
    const replay = await checkIn(checkinBody(config, { uptime_s: 1 }));
    expect(replay.status).toBe(409);
    expect(replay.body).toMatchObject({ code: 'CONFLICT', error: expect.stringMatching(/already checked in.*good once/) });
    expect(deployment(config.deployment_id).booted_at).toBe(bootedAt);
    expect(refusals()).toHaveLength(6);
    expect(refusals()[5]).toMatchObject({ target: config.hostname, details: expect.stringContaining('already checked in') });
  });

  it('refuses a wrong token, another deployment\'s token and the status token, and an unknown deployment', async () => {
    await start();
    const config = await written('10000000aa01');
    const other = await written('10000000aa02');
    const wrong = await checkIn(checkinBody(config, { checkin_token: 'x'.repeat(32) }));
    expect(wrong.status).toBe(403);
    expect(wrong.body).toMatchObject({ code: 'FORBIDDEN', error: expect.stringContaining(`not the one deployment ${config.deployment_id}`) });
    expect((await checkIn(checkinBody(config, { checkin_token: other.checkin_token }))).status).toBe(403);
    expect((await checkIn(checkinBody(config, { checkin_token: config.deployment_token }))).status).toBe(403);
    const unknown = await checkIn(checkinBody({ ...config, deployment_id: 9999 }));
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('NOT_FOUND');
    expect(deployment(config.deployment_id).booted_at).toBeNull();
    expect(refusals().map((r) => r.target)).toEqual([config.hostname, config.hostname, config.hostname, 'deployment 9999']);
    // None of that spent the real token.
    expect((await checkIn(checkinBody(config))).status).toBe(200);
  });

  it('refuses malformed check-ins with a 400 and records nothing', async () => {
    await start();
    const config = await written();
    const bad: Array<Record<string, unknown>> = [
      { ...checkinBody(config), mac_address: 'not-a-mac' },
      { ...checkinBody(config), uptime_s: -1 },
      { ...checkinBody(config), ip_addresses: ' 10.0.0.1' },
      { ...checkinBody(config), extra: true },
      { ...checkinBody(config), checkin_token: 'short' },
      { ...checkinBody(config), serial_number: 'not/a serial' },
      Object.fromEntries(Object.entries(checkinBody(config)).filter(([key]) => key !== 'hostname')),
    ];
    for (const body of bad) {
      const answer = await checkIn(body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.code).toBe('VALIDATION');
    }
    expect(deployment(config.deployment_id).booted_at).toBeNull();
    expect((await checkIn(checkinBody(config))).status).toBe(200);
  });

  it('needs no PITCREW_DEVICE_TOKEN: the shared secret stays off the cards, the check-in has its own', async () => {
    await start({ deviceToken: 'device-network-secret-1234' });
    t.device.defaultHeaders['x-device-token'] = 'device-network-secret-1234';
    const config = await written();
    delete t.device.defaultHeaders['x-device-token'];
    expect((await t.device.post('/api/status', { deployment_id: config.deployment_id, status: 'completed' })).status).toBe(401);
    expect((await checkIn(checkinBody(config))).status).toBe(200);
  });
});

describe('not booted', () => {
  it('flags a written card once past its deadline, keeps it on the lane until acknowledged, and takes a late check-in', async () => {
    await start();
    const config = await written();
    const oldInstaller = await written('10000000aa02', false);
    expect(deployment(oldInstaller.deployment_id).checkin_due_at).toBeNull();

    clock += DEADLINE_S * 1000 - 1;
    expect(t.server.core.checkins.sweepNotBooted()).toEqual([]);
    expect(await attentionIds()).toEqual([]);
    clock += 1;
    expect(t.server.core.checkins.sweepNotBooted().map((d) => d.id)).toEqual([config.deployment_id]);
    expect(t.server.core.checkins.sweepNotBooted()).toEqual([]);
    expect(deployment(config.deployment_id).not_booted_at).toBe('2026-06-01T10:10:00.000Z');
    // Installers that add no check-in are never flagged: nothing would ever come.
    expect(await attentionIds()).toEqual([config.deployment_id]);

    clock += 3600_000;
    const late = await checkIn(checkinBody(config, { uptime_s: 30 }));
    expect(late.status).toBe(200);
    expect(deployment(config.deployment_id)).toMatchObject({ booted_at: '2026-06-01T11:09:30.000Z', not_booted_at: '2026-06-01T10:10:00.000Z' });
    expect(await attentionIds()).toEqual([]);
  });

  it('leaves the lane when acknowledged; a card not yet overdue cannot be acknowledged', async () => {
    await start();
    const config = await written();
    const early = await t.as.operator.post(`/api/deployments/${config.deployment_id}/attention`, { resolution: 'acknowledged' });
    expect(early.status).toBe(409);
    expect(early.body.error).toMatch(/not overdue for its first-boot check-in/);
    clock += DEADLINE_S * 1000;
    expect(await attentionIds()).toEqual([config.deployment_id]);
    const acknowledged = await t.as.operator.post(`/api/deployments/${config.deployment_id}/attention`, { resolution: 'acknowledged' });
    expect(acknowledged.status).toBe(200);
    expect(await attentionIds()).toEqual([]);
  });

  it('after a re-deployment of the same hostname: the old record leaves the lane, its card may still check in to it, not to the new one', async () => {
    await start();
    const first = await written();
    clock += DEADLINE_S * 1000;
    expect(await attentionIds()).toEqual([first.deployment_id]);
    const again = await askConfig('10000000aa01');
    expect(again.hostname).toBe(first.hostname);
    // Re-imaged before the sweep saw it: nobody is told it did not boot.
    expect(t.server.core.checkins.sweepNotBooted()).toEqual([]);
    expect(deployment(first.deployment_id).attention_resolution).toBe('reimaged');
    expect(await attentionIds()).toEqual([]);
    await t.device.post('/api/status', { deployment_id: again.deployment_id, deployment_token: again.deployment_token, status: 'completed', checkin_installed: true });

    // The old card's token opens only the old record.
    expect((await checkIn(checkinBody({ ...again, checkin_token: first.checkin_token }))).status).toBe(403);
    expect((await checkIn(checkinBody(first))).status).toBe(200);
    expect(deployment(first.deployment_id).booted_at).not.toBeNull();
    expect(deployment(again.deployment_id).booted_at).toBeNull();
    clock += DEADLINE_S * 1000;
    expect(t.server.core.checkins.sweepNotBooted().map((d) => d.id)).toEqual([again.deployment_id]);
    expect(await attentionIds()).toEqual([again.deployment_id]);
    expect((await checkIn(checkinBody(again))).status).toBe(200);
    expect(await attentionIds()).toEqual([]);
  });
});

describe('the history\'s first-boot filter', () => {
  it('lists booted, awaiting, not-booted and no-check-in cards by the same rule as the dashboard', async () => {
    await start();
    const booted = await written('10000000aa01');
    const silent = await written('10000000aa02');
    const old = await written('10000000aa03', false);
    await askConfig('10000000aa04');
    expect((await checkIn(checkinBody(booted))).status).toBe(200);
    const ids = async (boot: string) => (await t.as.viewer.get(`/api/deployments?boot=${boot}`)).body.items.map((d: { id: number }) => d.id);
    expect(await ids('booted')).toEqual([booted.deployment_id]);
    expect(await ids('awaiting')).toEqual([silent.deployment_id]);
    expect(await ids('not-booted')).toEqual([]);
    expect(await ids('no-checkin')).toEqual([old.deployment_id]);
    clock += DEADLINE_S * 1000;
    expect(await ids('awaiting')).toEqual([]);
    expect(await ids('not-booted')).toEqual([silent.deployment_id]);
    const csv = await t.as.viewer.get('/api/deployments?boot=not-booted&format=csv');
    expect(csv.text.trim().split('\r\n')).toHaveLength(2);
    const bad = await t.as.viewer.get('/api/deployments?boot=maybe');
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('VALIDATION');
  });
});

describe('live events', () => {
  it('announces each not-booted card once, from the stale sweep, and each boot, to logged-in dashboards', async () => {
    await start();
    const socket: Socket<ServerToClientEvents, ClientToServerEvents> = connect(t.managementUrl, { transports: ['websocket'], extraHeaders: { cookie: t.as.viewer.cookie! }, reconnection: false, forceNew: true });
    const seen: Array<[string, DeploymentBootEvent]> = [];
    socket.on('deployment_not_booted', (event) => seen.push(['deployment_not_booted', event]));
    socket.on('deployment_booted', (event) => seen.push(['deployment_booted', event]));
    const statusMoves: number[] = [];
    socket.on('deployment_status', (event) => statusMoves.push(event.deployment_id));
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('connect_error', reject));
    const sweeper = startStaleSweeper(t.server.core, { staleMinutes: 60, intervalSeconds: 3600, log: t.server.management.log });
    try {
      const config = await written();
      await waitFor(() => statusMoves.length >= 2, 5000, 'the deployment\'s own status events');
      const before = statusMoves.length;
      clock += DEADLINE_S * 1000;
      sweeper.sweep();
      sweeper.sweep();
      const [name, event] = await waitFor(() => seen[0], 5000, 'deployment_not_booted');
      expect(name).toBe('deployment_not_booted');
      expect(event).toMatchObject({ deployment_id: config.deployment_id, hostname: config.hostname, deployment: { status: 'completed', not_booted_at: expect.any(String), booted_at: null } });
      expect((await checkIn(checkinBody(config))).status).toBe(200);
      await waitFor(() => seen.length === 2, 5000, 'deployment_booted');
      expect(seen[1]).toEqual(['deployment_booted', expect.objectContaining({ deployment_id: config.deployment_id, deployment: expect.objectContaining({ booted_at: expect.any(String) }) })]);
      // The installation's outcome did not change: no second "completed" for the outcome log and batch counts.
      expect(statusMoves.length).toBe(before);
    } finally {
      sweeper.stop();
      socket.close();
    }
  });
});

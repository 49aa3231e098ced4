import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerEventName, ServerEvents, ServerToClientEvents } from '../../contracts/events.js';
import { runPitcrewProcess } from '../../cli/test-support/cli-process.js';
import { activateTestImage, HttpClient, PASSWORDS, startTestServer, waitFor, type TestServer } from '../test-support/test-server.js';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

let t: TestServer;
const sockets: Client[] = [];
beforeEach(async () => {
  t = await startTestServer();
});
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await t.close();
});

function open(headers: Record<string, string>, auth?: { token: string }, transport: 'websocket' | 'polling' = 'websocket'): Client {
  const socket: Client = connect(t.managementUrl, { transports: [transport], extraHeaders: headers, auth, reconnection: false, forceNew: true });
  sockets.push(socket);
  return socket;
}

const connected = (socket: Client) =>
  new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });

const refused = (socket: Client) =>
  new Promise<Error>((resolve, reject) => {
    socket.once('connect', () => reject(new Error('the socket was accepted')));
    socket.once('connect_error', resolve);
  });

function record(socket: Client) {
  const seen: Array<{ name: ServerEventName; payload: unknown }> = [];
  socket.onAny((name: ServerEventName, payload: unknown) => seen.push({ name, payload }));
  return {
    seen,
    named: <K extends ServerEventName>(name: K) => seen.filter((e) => e.name === name).map((e) => e.payload as ServerEvents[K]),
  };
}

describe('live events', () => {
  it('pushes deployment_status, batch_progress and stats_update to a logged-in dashboard as a fake device reports', async () => {
    const socket = open({ cookie: t.as.viewer.cookie! });
    const events = record(socket);
    await connected(socket);
    await waitFor(() => t.server.deps.connectedClients() === 1, 5000, 'the client to be counted');

    const { core } = t.server;
    core.venues.create({ code: 'CORO', name: 'Coronado' });
    core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-3' });
    await activateTestImage(t.server, 'KXP2');
    const batch = (await t.as.operator.post('/api/batches', { venue_code: 'CORO', product_type: 'KXP2', total_count: 2 })).body.batch;
    await t.as.operator.post(`/api/batches/${batch.id}/start`);

    const config = (await t.device.post('/api/config', { serial_number: '10000000aa01' })).body;
    await t.device.post('/api/status', { deployment_id: config.deployment_id, status: 'downloading', progress: 50, bytes_done: 5, bytes_total: 10 });

    const progress = await waitFor(() => events.named('batch_progress').find((e) => e.batch_id === batch.id), 5000, 'batch_progress');
    expect(progress).toEqual({ batch_id: batch.id, status: 'active', total_count: 2, remaining_count: 1, handed_out_count: 1, imaging_count: 1, succeeded_count: 0, failed_count: 0 });
    const downloading = await waitFor(() => events.named('deployment_status').find((e) => e.status === 'downloading'), 5000, 'deployment_status');
    expect(downloading).toMatchObject({ deployment_id: config.deployment_id, progress: 50, deployment: { hostname: 'KXP2-CORO-001', bytes_done: 5 } });
    expect(events.named('batch_created')[0]).toMatchObject({ batch_id: batch.id });
    expect(events.named('batch_started')[0]).toMatchObject({ batch_id: batch.id });
    expect(events.named('hostname_assigned')[0]).toMatchObject({ hostname: 'KXP2-CORO-001', batch_id: batch.id });
    const stats = await waitFor(() => events.named('stats_update').at(-1), 5000, 'stats_update');
    expect(stats).toMatchObject({ active_deployments: 1, total_devices: 1 });

    // The last name handed out does not complete the batch: its devices do, when they finish.
    const last = (await t.device.post('/api/config', { serial_number: '10000000aa02' })).body;
    await waitFor(() => events.named('batch_progress').find((e) => e.batch_id === batch.id && e.remaining_count === 0), 5000, 'the last name handed out');
    await t.device.post('/api/status', { deployment_id: config.deployment_id, status: 'completed' });
    await t.device.post('/api/status', { deployment_id: last.deployment_id, status: 'failed', error_message: 'Verification failed.' });
    const completed = await waitFor(() => events.named('batch_completed')[0], 5000, 'batch_completed');
    expect(completed.batch).toMatchObject({ id: batch.id, status: 'completed', remaining_count: 0, imaging_count: 0, succeeded_count: 1, failed_count: 1 });
    expect(events.named('batch_completed')).toHaveLength(1);
  });

  it('tells dashboards to reload when the pitcrew command changes the data behind the server', async () => {
    const socket = open({ cookie: t.as.viewer.cookie! });
    const events = record(socket);
    await connected(socket);
    const { status, stderr } = await runPitcrewProcess(t.dataDir, ['venue', 'create', 'CORO', 'Coronado']);
    expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
    const change = await waitFor(() => events.named('external_change')[0], 5000, 'external_change');
    expect(Date.parse(change.detected_at)).not.toBeNaN();
    // Sent right after external_change, so it may still be on its way.
    expect(await waitFor(() => events.named('stats_update')[0], 5000, 'stats_update')).toEqual(t.server.core.stats());
    expect((await t.as.viewer.get('/api/venues')).body.venues.map((v: { code: string }) => v.code)).toEqual(['CORO']);
  });

  it('accepts an API token in the handshake', async () => {
    const { secret } = t.server.accounts.createToken(t.server.accounts.findUserByName('viewer')!.id, 'dashboard');
    await connected(open({}, { token: secret }));
    await connected(open({ authorization: `Bearer ${secret}` }));
    // Long-polling (what a browser falls back to behind some proxies) goes through the same checks.
    await connected(open({}, { token: secret }, 'polling'));
    await refused(open({}, undefined, 'polling'));
  });

  it('refuses a socket without a session, with a forged one, or opened from a foreign page', async () => {
    expect((await refused(open({}))).message).toMatch(/Log in first/);
    expect((await refused(open({ cookie: 'pitcrew_session=forged' }))).message).toMatch(/Log in first/);
    await refused(open({ cookie: t.as.viewer.cookie!, origin: 'http://evil.example' }));
    expect(t.server.deps.connectedClients()).toBe(0);
  });

  it('cuts a dashboard whose session logs out or whose token is revoked', async () => {
    const browser = new HttpClient(t.managementUrl);
    await browser.login('viewer', PASSWORDS.viewer);
    const bySession = open({ cookie: browser.cookie! });
    await connected(bySession);
    const { secret, token } = t.server.accounts.createToken(t.server.accounts.findUserByName('operator')!.id, 'dash');
    const byToken = open({}, { token: secret });
    await connected(byToken);
    const untouched = open({ cookie: t.as.viewer.cookie! });
    await connected(untouched);

    const sessionGone = new Promise((resolve) => bySession.once('disconnect', resolve));
    await browser.post('/api/auth/logout');
    await sessionGone;
    const tokenGone = new Promise((resolve) => byToken.once('disconnect', resolve));
    expect((await t.as.operator.delete(`/api/tokens/${token.id}`)).status).toBe(200);
    await tokenGone;
    expect(untouched.connected).toBe(true);
    expect(t.server.deps.connectedClients()).toBe(1);
  });

  it('is not offered on the device listener', async () => {
    const socket: Client = connect(t.deviceUrl, { transports: ['websocket'], extraHeaders: { cookie: t.as.viewer.cookie! }, reconnection: false, forceNew: true });
    sockets.push(socket);
    await refused(socket);
  });
});

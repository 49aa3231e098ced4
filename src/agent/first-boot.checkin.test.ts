// The check-in script itself, run under `sh` against the real server, over a prepared root tree (what the unit's
// /etc, /proc and /sys would hold), with only the tools a minimal system has on its PATH.
import { chmod, lstat, mkdir, mkdtemp, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { activateTestImage, startTestServer, waitFor, type TestServer } from '../server/test-support/test-server.js';
import { BASE_TOOLS, runCheckinScript, toolbox as toolboxIn, UNIT_FACTS, writeUnitView } from './test-support/checkin-root.js';
import { buildCheckinScript, buildCheckinUnit, CHECKIN_SCRIPT_PATH, CHECKIN_UNIT_PATH, CHECKIN_WANTS_PATH, checkinChanges, checkinSetupOf, type CheckinSetup } from './first-boot.checkin.js';

let t: TestServer;
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pitcrew-checkin-script-'));
  t = await startTestServer({}, { users: false });
  t.server.core.venues.create({ code: 'CORO', name: 'Coronado' });
  t.server.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-5' });
  await activateTestImage(t.server, 'KXP2', '2.4.1');
});
afterEach(async () => {
  await t.close();
  await rm(dir, { recursive: true, force: true });
});

/** A deployment completed by an installer that added the check-in; its configuration answer. */
async function writtenDeployment() {
  const config = (await t.device.post('/api/config', { product_type: 'KXP2', venue_code: 'CORO', serial_number: '10000000aa01' })).body;
  expect((await t.device.post('/api/status', { deployment_id: config.deployment_id, deployment_token: config.deployment_token, status: 'completed', checkin_installed: true })).status).toBe(200);
  return config;
}

/** The unit's root as the customizer leaves it (script, unit, link), plus what the running kernel would show. */
async function prepareRoot(setup: CheckinSetup): Promise<string> {
  const root = join(dir, 'root');
  for (const change of checkinChanges(setup)) {
    const path = join(root, change.path);
    await mkdir(dirname(path), { recursive: true });
    if (change.kind === 'file') {
      await writeFile(path, change.content);
      await chmod(path, change.mode ?? 0o644);
    } else if (change.kind === 'symlink') {
      await symlink(join(root, change.target), path);
    }
  }
  await writeUnitView(root);
  return root;
}

const toolbox = (tools: string[], as: Record<string, string> = {}) => toolboxIn(dir, tools, as);
const runScript = runCheckinScript;
const exists = (path: string) => lstat(path).then(() => true, () => false);

async function expectRemoved(root: string) {
  for (const path of [CHECKIN_SCRIPT_PATH, CHECKIN_UNIT_PATH, CHECKIN_WANTS_PATH]) expect(await exists(join(root, path)), path).toBe(false);
}

/** A TCP port with nothing listening on it yet: reserved, then freed. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Forwards `port` to the server's device listener: the server "comes up" there when this starts. */
async function forward(port: number): Promise<Server> {
  const target = new URL(t.deviceUrl);
  const proxy = createServer((socket) => {
    const upstream = connect(Number(target.port), target.hostname);
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(port, '127.0.0.1', resolve));
  return proxy;
}

describe('the check-in script', () => {
  it('keeps trying while the server is down, reports the unit once it is up, then removes itself and its unit', async () => {
    const config = await writtenDeployment();
    const port = await freePort();
    const setup = { ...checkinSetupOf({ ...config, checkin_url: `http://127.0.0.1:${port}/api/checkin` })!, firstDelayS: 1, maxDelayS: 1 };
    const root = await prepareRoot(setup);
    expect((await readlink(join(root, CHECKIN_WANTS_PATH)))).toBe(join(root, CHECKIN_UNIT_PATH));
    const run = runScript(root, await toolbox([...BASE_TOOLS, 'curl']));
    await waitFor(() => run.stderr().includes('no answer from'), 10_000, 'a failed first attempt');
    expect(t.server.core.deployments.get(config.deployment_id).booted_at).toBeNull();
    const proxy = await forward(port);
    try {
      expect(await run.exit).toBe(0);
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
    expect(run.stderr()).toMatch(/checked in as deployment \d+ \(attempt [2-9]\)/);
    await expectRemoved(root);
    const checkin = t.server.core.checkins.checkinOf(config.deployment_id);
    expect(checkin).toMatchObject({
      hostname: UNIT_FACTS.hostname,
      serial_number: UNIT_FACTS.serial,
      mac_address: UNIT_FACTS.mac,
      os_release: UNIT_FACTS.osRelease,
      image_version: '2.4.1',
      boot_time_unit: UNIT_FACTS.bootTime,
    });
    // The machine's own global addresses, as `ip` lists them.
    expect(checkin!.ip_addresses.length).toBeGreaterThan(0);
    for (const address of checkin!.ip_addresses) expect(address).toMatch(/^[0-9a-f.:]+$/);
    const bootedAt = Date.parse(t.server.core.deployments.get(config.deployment_id).booted_at!);
    expect(Date.parse(checkin!.received_at) - bootedAt).toBe(UNIT_FACTS.uptimeS * 1000);
  });

  it('checks in with GNU wget, BusyBox wget, and bash alone (a minimal system without curl or wget)', async () => {
    for (const [client, as] of [['wget', {}], ['wget', { wget: '/usr/bin/busybox' }], ['bash', {}]] as const) {
      const config = await writtenDeployment();
      // A client that cannot reach the server fails the test within its window, not after a day.
      const setup = { ...checkinSetupOf(config)!, firstDelayS: 1, retryS: 1 };
      await rm(join(dir, 'root'), { recursive: true, force: true });
      const root = await prepareRoot(setup);
      const run = runScript(root, await toolbox([...BASE_TOOLS, client], as));
      expect(await run.exit).toBe(0);
      expect(run.stderr(), client).toMatch(/checked in as deployment \d+ \(attempt 1\)/);
      expect(t.server.core.checkins.checkinOf(config.deployment_id), client).toMatchObject({ hostname: UNIT_FACTS.hostname, serial_number: UNIT_FACTS.serial, mac_address: UNIT_FACTS.mac });
      await expectRemoved(root);
    }
  });

  it('gives up on a refusal at once, and on silence after its retry window, removing itself either way', async () => {
    const config = await writtenDeployment();
    const forged = { ...checkinSetupOf(config)!, token: 'f'.repeat(32), firstDelayS: 1 };
    const refusedRoot = await prepareRoot(forged);
    const refused = runScript(refusedRoot, await toolbox([...BASE_TOOLS, 'curl']));
    expect(await refused.exit).toBe(0);
    expect(refused.stderr()).toMatch(/refused the check-in \(HTTP 403\); giving up/);
    await expectRemoved(refusedRoot);

    await rm(join(dir, 'root'), { recursive: true, force: true });
    const silentRoot = await prepareRoot({ ...checkinSetupOf(config)!, url: `http://127.0.0.1:${await freePort()}/api/checkin`, retryS: 1, firstDelayS: 2 });
    const silent = runScript(silentRoot, await toolbox([...BASE_TOOLS, 'curl']));
    expect(await silent.exit).toBe(0);
    expect(silent.stderr()).toMatch(/no check-in within 1 s; giving up/);
    await expectRemoved(silentRoot);
    expect(t.server.core.deployments.get(config.deployment_id).booted_at).toBeNull();
  });

  it('takes a replay (its answer was lost) as done: the server already has the check-in', async () => {
    const config = await writtenDeployment();
    const setup = checkinSetupOf(config)!;
    const first = runScript(await prepareRoot(setup), await toolbox([...BASE_TOOLS, 'curl']));
    expect(await first.exit).toBe(0);
    await rm(join(dir, 'root'), { recursive: true, force: true });
    const root = await prepareRoot(setup);
    const replay = runScript(root, await toolbox([...BASE_TOOLS, 'curl']));
    expect(await replay.exit).toBe(0);
    expect(replay.stderr()).toMatch(/already has this unit's check-in \(HTTP 409\)/);
    await expectRemoved(root);
  });
});

describe('what the installer writes', () => {
  it('quotes every value as one shell word and refuses values that cannot be written safely', () => {
    const setup: CheckinSetup = { url: 'http://10.0.0.1:5001/api/checkin', deploymentId: 7, token: 'A'.repeat(32), imageVersion: `it's $(reboot) \`x\``, retryS: 60 };
    expect(buildCheckinScript(setup)).toContain(`IMAGE_VERSION='it'\\''s $(reboot) \`x\`'`);
    expect(() => buildCheckinScript({ ...setup, url: "http://x/'; reboot; '" })).toThrow(/not an http\(s\) URL/);
    expect(() => buildCheckinScript({ ...setup, token: "abc'; reboot" })).toThrow(/base64url/);
    expect(() => buildCheckinScript({ ...setup, retryS: 0 })).toThrow(/retry window/);
    expect(checkinSetupOf({ deployment_id: 7, version: '1', checkin_url: undefined, checkin_token: undefined, checkin_retry_s: undefined })).toBeNull();
  });

  it('a unit that waits for the network, starts the script and delays no other unit', () => {
    const unit = buildCheckinUnit();
    expect(unit).toMatch(/^After=network-online\.target$/m);
    expect(unit).toMatch(/^Wants=network-online\.target$/m);
    expect(unit).toMatch(new RegExp(`^ExecStart=/bin/sh ${CHECKIN_SCRIPT_PATH}$`, 'm'));
    expect(unit).not.toMatch(/^Before=/m);
    expect(unit).toMatch(/^WantedBy=multi-user\.target$/m);
    const script = checkinChanges({ url: 'http://10.0.0.1:5001/api/checkin', deploymentId: 7, token: 'A'.repeat(32), imageVersion: '1', retryS: 60 })[0]!;
    expect(script).toMatchObject({ kind: 'file', path: CHECKIN_SCRIPT_PATH, mode: 0o700 });
  });
});

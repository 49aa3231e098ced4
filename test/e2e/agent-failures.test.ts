// What goes wrong in a real deployment, end to end against the real server: a cut connection, a corrupted byte
// (in the image on the server, and on a faulty card), no active image, a server that wants a device token. The
// first three take the raw path (--no-chunks), as installers from before image delivery v2 do; the same faults
// on the chunked path are in agent-delivery-v2.test.ts.
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { runInstaller } from '../../src/agent/installer.runner.js';
import { readRootFile } from '../../src/disk-layout/test-support/disk-image.builder.js';
import { startCutProxy } from '../../src/agent/test-support/tcp-cut.proxy.js';
import {
  coroBoardArgs,
  createVenueWithKarts,
  diffDiskWithImage,
  listDeployments,
  registerActiveImage,
  runAgentBundle,
  useAgentE2e,
  venueStats,
} from '../../src/agent/test-support/agent-e2e.harness.js';

// The server is started in each describe: with the default settings, or with a device token.
const e2e = useAgentE2e('pitcrew-agent-e2e-', { image: { flavour: 'cloud-init' }, serverBeforeEach: false });

const rawDevice = (serial: string, disk: string, server: string) => [...coroBoardArgs(serial, disk, server), '--no-chunks'];

describe('pitcrew-agent when things go wrong', () => {
  beforeEach(async () => {
    const t = await e2e.startServer();
    await createVenueWithKarts(t, 'CORO', '1-5');
  });

  it('resumes a download whose connection is cut mid-way, and still verifies', async () => {
    const { dir, bundle, image, server: t } = e2e;
    await registerActiveImage(t, image.path, 'KXP2', '2025.11.1');
    const proxy = await startCutProxy(t.deviceUrl);
    try {
      proxy.cutNextImageDownloadAfter(Math.floor(image.size / 2));
      const disk = join(dir, 'cut.img');
      const agent = await runAgentBundle(bundle, rawDevice('10000000000c0001', disk, proxy.url));

      expect(agent.code, agent.stderr).toBe(0);
      expect(proxy.cuts).toBe(1);
      expect(proxy.requests.filter((r) => r.startsWith('GET /images/')), JSON.stringify(proxy.requests) + agent.stderr).toHaveLength(2);
      expect(agent.stderr).toMatch(/download: .*resuming at byte [1-9]\d*; retry 1/);
      expect(agent.stdout).toMatch(/verified \(o_direct\); 1 resume\(s\)/);
      expect((await diffDiskWithImage(disk, image, join(dir, 'cut-diff'))).outsidePartitions).toEqual([]);
      const [deployment] = await listDeployments(t, { search: '10000000000c0001' });
      expect(deployment).toMatchObject({ status: 'completed', bytes_done: image.size, error_message: null });
    } finally {
      await proxy.close();
    }
  });

  it('fails when a byte of the image on the server is corrupted, and the server shows why', async () => {
    const { dir, bundle, image, server: t } = e2e;
    const registered = await registerActiveImage(t, image.path, 'KXP2', '2025.11.2');
    const stored = await open(join(t.dataDir, 'images', registered.filename), 'r+');
    const byte = Buffer.alloc(1);
    await stored.read(byte, 0, 1, 30_000_000);
    byte[0]! ^= 0x20;
    await stored.write(byte, 0, 1, 30_000_000);
    await stored.close();

    const disk = join(dir, 'corrupt-image.img');
    const agent = await runAgentBundle(bundle, rawDevice('10000000000c0002', disk, t.deviceUrl));
    expect(agent.code).toBe(1);
    expect(agent.stderr).toMatch(/installation failed while downloading: the downloaded image does not match its checksum/);
    // A flaky link is likelier than a bad master: it fetched the image once more before failing, and said so.
    expect(agent.stderr).toMatch(/fetching it once more/);
    const [deployment] = await listDeployments(t, { search: '10000000000c0002' });
    expect(deployment).toMatchObject({ status: 'failed', hostname: 'KXP2-CORO-001' });
    expect(deployment!.error_message).toMatch(new RegExp(`does not match its checksum, fetched twice: got sha256 [0-9a-f]{64}, expected ${registered.sha256}`));
    // Nothing bootable was left behind: the partition table was never written.
    expect((await readFile(disk)).subarray(0, 1 << 20).every((b) => b === 0)).toBe(true);
  });

  it('fails read-back verification on a card that corrupts a byte, and the server shows why', async () => {
    const { dir, image, server: t } = e2e;
    await registerActiveImage(t, image.path, 'KXP2', '2025.11.3');
    const disk = join(dir, 'bad-card.img');
    const result = await runInstaller({
      serverUrl: t.deviceUrl,
      target: disk,
      identity: { serial: '10000000000c0003', mac: 'd8:3a:dd:00:c0:03', model: 'Raspberry Pi 5', iface: null },
      productType: 'KXP2',
      venueCode: 'CORO',
      faults: { corruptWriteAt: image.root.startByte + 100_000 },
      rawOnly: true,
    });
    expect(result).toMatchObject({ ok: false, exitCode: 1, errorCode: 'VERIFY_MISMATCH', failedPhase: 'verifying' });
    const [deployment] = await listDeployments(t, { search: '10000000000c0003' });
    expect(deployment).toMatchObject({ status: 'failed' });
    expect(deployment!.error_message).toMatch(/^read-back verification failed: the disk holds sha256 [0-9a-f]{64}, the image is [0-9a-f]{64}/);
    expect(deployment!.message).toBe('failed while verifying');
  });

  it('gives a clear error and consumes no hostname when no image is active', async () => {
    const { dir, bundle, image, server: t } = e2e;
    const disk = join(dir, 'no-image.img');
    const agent = await runAgentBundle(bundle, coroBoardArgs('10000000000c0004', disk, t.deviceUrl));

    expect(agent.code).toBe(3);
    expect(agent.stderr).toMatch(/the server refused a configuration \(HTTP 409 NO_ACTIVE_IMAGE\): No KXP2 master image is active/);
    expect(await venueStats(t, 'CORO')).toMatchObject({ available: 5, assigned: 0 });
    expect(await listDeployments(t)).toEqual([]);

    // Once an image is active, the first board still gets the lowest kart number.
    await registerActiveImage(t, image.path, 'KXP2', '2025.11.4');
    const retry = await runAgentBundle(bundle, coroBoardArgs('10000000000c0004', disk, t.deviceUrl));
    expect(retry.code, retry.stderr).toBe(0);
    expect(await readRootFile(disk, image.root.startByte, '/etc/hostname')).toBe('KXP2-CORO-001\n');
  });
});

describe('pitcrew-agent and a server that requires a device token', () => {
  it('is refused without the token and installs with it', async () => {
    const { dir, bundle, image } = e2e;
    const t = await e2e.startServer({ deviceToken: 'pit-lane-secret-2025' });
    await createVenueWithKarts(t, 'CORO', '1-5');
    await registerActiveImage(t, image.path, 'KXP2', '2025.11.5');
    const disk = join(dir, 'token.img');

    const refused = await runAgentBundle(bundle, coroBoardArgs('10000000000c0005', disk, t.deviceUrl));
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/HTTP 401 UNAUTHENTICATED.*device token/);

    const accepted = await runAgentBundle(bundle, coroBoardArgs('10000000000c0005', disk, t.deviceUrl), { PITCREW_DEVICE_TOKEN: 'pit-lane-secret-2025' });
    expect(accepted.code, accepted.stderr).toBe(0);
    // Manifest and chunks are behind the token too.
    expect(accepted.stdout).toMatch(/image delivery v2: /);
    expect((await listDeployments(t, { search: '10000000000c0005' }))[0]).toMatchObject({ status: 'completed' });
  });
});

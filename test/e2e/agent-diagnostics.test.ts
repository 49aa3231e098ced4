// Identify and diagnose, end to end against the real server and installer: a failing card's whole log reaches the
// dashboard's API with the card's identity and rates; an operator's Identify reaches a board mid-installation and
// blinks its LED (a folder standing in for /sys/class/leds/ACT), which gets its trigger back afterwards.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runInstaller, type InstallerEvent } from '../../src/agent/installer.runner.js';
import { buildFakeBoard } from '../../src/agent/test-support/fake-board.js';
import { makeTempDir } from '../../src/disk-layout/test-support/disk-image.builder.js';
import { createVenueWithKarts, listDeployments, registerActiveImage, useAgentE2e, waitFor } from '../../src/agent/test-support/agent-e2e.harness.js';

// The installer runs in-process here: no bundle.
const e2e = useAgentE2e('pitcrew-diagnose-e2e-', { bundle: false, image: { flavour: 'cloud-init' } });
let root: string;

beforeEach(async () => {
  const { image, server: t } = e2e;
  await createVenueWithKarts(t, 'CORO', '1-5');
  await registerActiveImage(t, image.path, 'KXP2', '2026.5.1');
  root = await makeTempDir('pitcrew-diagnose-board-');
  // A board with a SanDisk card in its slot; the card's /dev node is a file the size of the card.
  await buildFakeBoard(root, {
    disks: [{ name: 'mmcblk0', kind: 'sd-card', sizeBytes: image.size + (8 << 20), model: 'SN32G', deviceFiles: { manfid: '0x000003', serial: '0x1a2b3c4d', cid: '035344534e333247801a2b3c4d0171a5' } }],
  });
  await writeFile(join(root, 'dev/mmcblk0'), '');
  await mkdir(join(root, 'sys/class/leds/ACT'), { recursive: true });
  await writeFile(join(root, 'sys/class/leds/ACT/trigger'), 'none [mmc0] timer heartbeat\n');
  await writeFile(join(root, 'sys/class/leds/ACT/brightness'), '0\n');
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const install = (serial: string, extra: Partial<Parameters<typeof runInstaller>[0]> = {}) =>
  runInstaller({
    serverUrl: e2e.server.deviceUrl,
    target: join(root, 'dev/mmcblk0'),
    systemRoot: root,
    identity: { serial, mac: `d8:3a:dd:00:d1:${serial.slice(-2)}`, model: 'Raspberry Pi 5', iface: null },
    productType: 'KXP2',
    venueCode: 'CORO',
    reportIntervalMs: 100,
    ...extra,
  });

describe('diagnosing an installation', () => {
  it('sends the whole log of a failed installation, with the card it failed on and how fast that card was', async () => {
    const { image, server: t } = e2e;
    // A card writing the image in about a second: the 100 ms progress reports then land mid-download on any machine.
    const result = await install('10000000000d0001', { faults: { corruptWriteAt: image.root.startByte + 100_000 }, rawOnly: true, cardWriteBytesPerSecond: image.size });
    expect(result).toMatchObject({ ok: false, errorCode: 'VERIFY_MISMATCH' });
    const [deployment] = await listDeployments(t, { search: '10000000000d0001' });
    expect(deployment).toMatchObject({ status: 'failed', error_code: 'VERIFY_MISMATCH', card_kind: 'sd', card_manufacturer: 'SanDisk', card_name: 'SN32G', card_serial: '0x1a2b3c4d', card_size_bytes: image.size + (8 << 20) });
    expect(deployment!.card_write_bps).toBeGreaterThan(0);
    expect(deployment!.card_read_bps).toBeGreaterThan(0);

    const log = await t.as.viewer.get(`/api/deployments/${deployment!.id}/log`);
    expect(log.status).toBe(200);
    expect(log.body).toMatchObject({ kind: 'full', truncated: false });
    const text = log.body.text as string;
    expect(text).toMatch(/info {2}assigned KXP2-CORO-001 \(deployment \d+\), image 2026\.5\.1/);
    expect(text).toMatch(/info {2}card: SanDisk SN32G, serial 0x1a2b3c4d/);
    expect(text).toMatch(/info {2}\[downloading\] [1-7]\d %: [\d.]+ MiB of 60\.0 MiB at [\d.]+ [KMG]iB\/s\n/);
    expect(text).toMatch(/error \[failed\] read-back verification failed/);
  });

  it('blinks the board\'s LED for an Identify asked while it installs, keeps the log\'s last lines and restores the LED', async () => {
    const { image, server: t } = e2e;
    const events: InstallerEvent[] = [];
    // A slow card, so the operator's click lands mid-installation.
    const running = install('10000000000d0002', { cardWriteBytesPerSecond: Math.ceil(image.size / 4), onEvent: (event) => events.push(event) });
    const deployment = await waitFor(async () => (await listDeployments(t, { search: '10000000000d0002' }))[0], 10_000, 'the deployment');
    const asked = await t.as.operator.post(`/api/deployments/${deployment.id}/identify`, { seconds: 2 });
    expect(asked.status).toBe(200);
    const trigger = () => readFile(join(root, 'sys/class/leds/ACT/trigger'), 'utf8');
    await waitFor(async () => (await trigger()) === 'none', 10_000, 'the LED taken over');
    const result = await running;
    expect(result.ok, result.error ?? '').toBe(true);
    expect(events).toContainEqual({ type: 'identify', seconds: 2 });
    // The installer let the blink finish before it ended, and gave the card its trigger back.
    expect(await trigger()).toBe('mmc0');

    const record = (await t.as.viewer.get(`/api/deployments/${deployment.id}`)).body;
    expect(record).toMatchObject({ status: 'completed', identify_seconds: 2, identify_delivered_at: expect.any(String), card_kind: 'sd' });
    const log = (await t.as.viewer.get(`/api/deployments/${deployment.id}/log`)).body;
    expect(log.kind).toBe('tail');
    expect(log.text).toMatch(/identify: blinking the activity LED for 2 s/);
    expect(log.text).toMatch(/\[customizing\]/);
  });
});

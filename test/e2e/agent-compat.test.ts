// The original Python installer must keep working: its requests are replayed byte for byte as
// `requests.post(url, json=payload)` sends them (Python's json.dumps spacing, null for what it does not know,
// float timestamps, the legacy words "starting" and "success"), and it reads `version` and the rest of the
// config answer, then downloads the image with a plain GET.
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../../src/disk-layout/test-support/disk-image.builder.js';
import { createVenueWithKarts, listDeployments, registerActiveImage, startTestServer, type TestServer } from '../../src/agent/test-support/agent-e2e.harness.js';
import { pythonDownload, pythonPost } from './support/python-installer.js';
import { tinyDiskImage } from '../../src/disk-layout/test-support/tiny-disk-image.js';

let t: TestServer;
let dir: string;
beforeEach(async () => {
  t = await startTestServer();
  dir = await makeTempDir('pitcrew-compat-');
});
afterEach(async () => {
  await t.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the original Python installer', () => {
  it('gets its hostname and image from the active batch, reports with legacy words, and ends completed', async () => {
    await createVenueWithKarts(t, 'CORO', '1-10');
    const imagePath = join(dir, 'kxp2-master.img');
    await writeFile(imagePath, tinyDiskImage(Buffer.alloc((3 << 20) - 512, 7)));
    const image = await registerActiveImage(t, imagePath, 'KXP2', '3.2.1');
    const batch = await t.as.operator.post('/api/batches', { venue_code: 'CORO', product_type: 'KXP2', total_count: 5 });
    expect(batch.status).toBe(201);
    expect((await t.as.operator.post(`/api/batches/${batch.body.batch.id}/start`)).status).toBe(200);

    const serial = '100000002a5e7c1f';
    const mac = 'dc:a6:32:12:34:56';
    // No venue configured on the device: it sends null and the active batch decides.
    const config = await pythonPost(`${t.deviceUrl}/api/config`, { product_type: 'KXP2', venue_code: null, serial_number: serial, mac_address: mac, timestamp: 1732567890.123456 });
    expect(config.status, config.raw).toBe(200);
    expect(config.json).toMatchObject({
      hostname: 'KXP2-CORO-001',
      product_type: 'KXP2',
      venue_code: 'CORO',
      version: '3.2.1',
      image_size: image.size_bytes,
      image_checksum: image.sha256,
      batch_id: batch.body.batch.id,
    });
    expect(typeof config.json.timestamp).toBe('string');

    // Its first report comes before it has used the hostname: hostname null, identified by serial and MAC.
    const starting = await pythonPost(`${t.deviceUrl}/api/status`, { status: 'starting', hostname: null, serial, mac_address: mac, progress: 0, error_message: null, timestamp: 1732567891.5 });
    expect(starting.status, starting.raw).toBe(200);
    expect(starting.json).toMatchObject({ received: true, hostname: 'KXP2-CORO-001' });

    const download = await pythonDownload(config.json.image_url);
    expect(download).toEqual({ status: 200, sha256: config.json.image_checksum, bytes: config.json.image_size });

    for (const [status, progress] of [['downloading', 50], ['downloading', 100], ['verifying', 100]] as const) {
      const report = await pythonPost(`${t.deviceUrl}/api/status`, { status, hostname: 'KXP2-CORO-001', serial, mac_address: mac, progress, error_message: null, timestamp: 1732567900.25 });
      expect(report.status, report.raw).toBe(200);
      expect(report.json).toMatchObject({ received: true, hostname: 'KXP2-CORO-001' });
    }
    const done = await pythonPost(`${t.deviceUrl}/api/status`, { status: 'success', hostname: 'KXP2-CORO-001', serial, mac_address: mac, progress: 100, error_message: null, timestamp: 1732567950 });
    expect(done.status, done.raw).toBe(200);

    const [deployment] = await listDeployments(t, { search: serial });
    expect(deployment).toMatchObject({ hostname: 'KXP2-CORO-001', status: 'completed', progress: 100, batch_id: batch.body.batch.id, image_version: '3.2.1', error_message: null });
    expect((await t.as.viewer.get(`/api/batches/${batch.body.batch.id}`)).body.batch).toMatchObject({ remaining_count: 4 });

    // A late report about a finished deployment cannot reopen it.
    const late = await pythonPost(`${t.deviceUrl}/api/status`, { status: 'downloading', hostname: 'KXP2-CORO-001', serial, mac_address: mac, progress: 10, error_message: null, timestamp: 1732567999 });
    expect(late.status).toBe(409);
    expect(late.json).toMatchObject({ success: false, code: 'DEPLOYMENT_FINAL' });
    expect((await listDeployments(t, { search: serial }))[0]!.status).toBe('completed');
  });

  it('names its venue when no batch is active, and its failure reason reaches the dashboard', async () => {
    await createVenueWithKarts(t, 'ARIA', '40-42');
    const imagePath = join(dir, 'rxp2-master.img');
    await writeFile(imagePath, tinyDiskImage(Buffer.alloc((1 << 20) - 512, 3)));
    await registerActiveImage(t, imagePath, 'RXP2', '1.0.0');

    const config = await pythonPost(`${t.deviceUrl}/api/config`, { product_type: 'RXP2', venue_code: 'aria', serial_number: '10000000deadbeef', mac_address: null, timestamp: 1732567890 });
    expect(config.status, config.raw).toBe(200);
    expect(config.json).toMatchObject({ hostname: 'RXP2-ARIA-DEADBEEF', version: '1.0.0' });

    const failed = await pythonPost(`${t.deviceUrl}/api/status`, {
      status: 'failed',
      hostname: 'RXP2-ARIA-DEADBEEF',
      serial: '10000000deadbeef',
      mac_address: null,
      progress: 37,
      error_message: 'Checksum mismatch after download',
      timestamp: 1732567990.75,
    });
    expect(failed.status, failed.raw).toBe(200);
    const [deployment] = await listDeployments(t, { search: 'DEADBEEF' });
    expect(deployment).toMatchObject({ status: 'failed', error_message: 'Checksum mismatch after download' });
  });

  it('gets a clear 4xx, not a placeholder hostname, when nothing can be served', async () => {
    await createVenueWithKarts(t, 'CORO', '1');
    const noImage = await pythonPost(`${t.deviceUrl}/api/config`, { product_type: 'KXP2', venue_code: 'CORO', serial_number: '1000000000000001', mac_address: null, timestamp: 1732567890.5 });
    expect(noImage.status).toBe(409);
    expect(noImage.json).toMatchObject({ success: false, code: 'NO_ACTIVE_IMAGE', error: expect.stringMatching(/No KXP2 master image is active/) });

    const imagePath = join(dir, 'kxp2.img');
    await writeFile(imagePath, tinyDiskImage(Buffer.alloc((1 << 20) - 512, 1)));
    await registerActiveImage(t, imagePath, 'KXP2', '1.0.0');
    const noVenue = await pythonPost(`${t.deviceUrl}/api/config`, { product_type: 'KXP2', venue_code: null, serial_number: '1000000000000002', mac_address: null, timestamp: 1732567890.5 });
    expect(noVenue.status).toBeGreaterThanOrEqual(400);
    expect(noVenue.status).toBeLessThan(500);
    expect(noVenue.json.success).toBe(false);
    expect(await listDeployments(t)).toEqual([]);
  });
});

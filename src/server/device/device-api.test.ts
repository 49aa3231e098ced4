import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { activateTestImage, startTestServer, type TestServer } from '../test-support/test-server.js';

let t: TestServer;
beforeEach(async () => {
  t = await startTestServer({}, { users: false });
});
afterEach(async () => t.close());

async function venueWithKarts(code = 'CORO', numbers = '1-5') {
  t.server.core.venues.create({ code, name: `Venue ${code}` });
  t.server.core.pool.importKartNumbers({ venue_code: code, numbers });
}

describe('device API', () => {
  it('answers /health on the device listener', async () => {
    const answer = await t.device.get('/health');
    expect(answer.status).toBe(200);
    expect(answer.body.status).toBe('ok');
  });

  it('assigns a hostname from the venue named by the device, with image URL built from the Host it used', async () => {
    await venueWithKarts();
    const imageId = await activateTestImage(t.server, 'KXP2');
    const answer = await t.device.post('/api/config', { product_type: 'KXP2', venue_code: 'coro', serial_number: '10000000abcdef01', mac_address: null, timestamp: 1700000000 });
    expect(answer.status).toBe(200);
    const image = t.server.core.images.get(imageId);
    expect(answer.body).toMatchObject({
      hostname: 'KXP2-CORO-001',
      product_type: 'KXP2',
      venue_code: 'CORO',
      image_url: `${t.deviceUrl}/images/${image.filename}`,
      image_size: image.size_bytes,
      image_checksum: image.sha256,
      version: '1.0.0',
      status_url: `${t.deviceUrl}/api/status`,
      batch_id: null,
    });
    expect(Number.isInteger(answer.body.deployment_id)).toBe(true);
    expect(new Date(answer.body.timestamp).toISOString()).toBe(answer.body.timestamp);
  });
});

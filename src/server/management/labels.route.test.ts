// The content of label sheets: which units a batch's or a venue's sheet lists, in which order, and bad requests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labelQrPayload } from '../../contracts/labels.js';
import { activateTestImage, startTestServer, type TestServer } from '../test-support/test-server.js';

let t: TestServer;
let batchId: number;

const ask = (body: Record<string, unknown>) => t.device.post('/api/config', body);

beforeAll(async () => {
  t = await startTestServer();
  const { core } = t.server;
  core.venues.create({ code: 'CORO', name: 'Coronado' });
  core.venues.create({ code: 'ARIA', name: 'Aria' });
  core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-3, 9, 10' });
  await activateTestImage(t.server, 'KXP2');
  await activateTestImage(t.server, 'RXP2');
  // Two devices outside any batch, then a batch of two, then an RXP2 unit of the same venue.
  await ask({ venue_code: 'CORO', product_type: 'KXP2', serial_number: '10000000aaaa0001' });
  await ask({ venue_code: 'CORO', product_type: 'KXP2', serial_number: '10000000aaaa0002' });
  const batch = core.batches.create({ venue_code: 'CORO', product_type: 'KXP2', total_count: 2, name: 'Saturday' });
  batchId = batch.id;
  core.batches.start(batch.id);
  await ask({ serial_number: '10000000bbbb0003', mac_address: 'dc:a6:32:00:00:03' });
  await ask({ serial_number: '10000000bbbb0009' });
  core.batches.pause(batch.id);
  await ask({ venue_code: 'CORO', product_type: 'RXP2', serial_number: '10000000deadbeef' });
});
afterAll(async () => t.close());

describe('label sheets', () => {
  it('lists the units of a batch in kart-number order, with serials', async () => {
    const answer = await t.as.viewer.get(`/api/labels?batch=${batchId}`);
    expect(answer.status).toBe(200);
    expect(answer.body.title).toBe(`Batch ${batchId} "Saturday" — KXP2 at Coronado (CORO)`);
    expect(answer.body.units).toEqual([
      { hostname: 'KXP2-CORO-003', product_type: 'KXP2', venue_code: 'CORO', kart_number: 3, serial_number: '10000000bbbb0003', mac_address: 'dc:a6:32:00:00:03', batch_id: batchId },
      { hostname: 'KXP2-CORO-009', product_type: 'KXP2', venue_code: 'CORO', kart_number: 9, serial_number: '10000000bbbb0009', mac_address: null, batch_id: batchId },
    ]);
  });

  it('lists every unit of a venue holding a name, kart numbers before serial-named units, and not free numbers', async () => {
    const answer = await t.as.viewer.get('/api/labels?venue=coro');
    expect(answer.body.title).toBe('Coronado (CORO)');
    expect(answer.body.units.map((u: { hostname: string }) => u.hostname)).toEqual(['KXP2-CORO-001', 'KXP2-CORO-002', 'KXP2-CORO-003', 'KXP2-CORO-009', 'RXP2-CORO-DEADBEEF']);
    expect((await t.as.viewer.get('/api/labels?venue=ARIA')).body.units).toEqual([]);
  });

  it.each([
    ['neither a batch nor a venue', '', 400, 'VALIDATION'],
    ['both', `?batch=1&venue=CORO`, 400, 'VALIDATION'],
    ['a venue code of the wrong shape', '?venue=CORONADO', 400, 'VALIDATION'],
    ['a batch id that is no number', '?batch=abc', 400, 'VALIDATION'],
    ['a batch that does not exist', '?batch=9999', 404, 'NOT_FOUND'],
    ['a venue that does not exist', '?venue=NOPE', 404, 'NOT_FOUND'],
  ])('refuses %s', async (_what, query, status, code) => {
    const answer = await t.as.viewer.get(`/api/labels${query}`);
    expect(answer.status).toBe(status);
    expect(answer.body).toMatchObject({ success: false, code });
  });

  it('puts the dashboard link to the unit in its QR payload', () => {
    expect(labelQrPayload('http://10.0.0.1:5000/', 'KXP2-CORO-003')).toBe('http://10.0.0.1:5000/deployments?search=KXP2-CORO-003');
  });
});

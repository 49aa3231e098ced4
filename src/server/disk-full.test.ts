// A full disk is the operator's problem, not a bug (#16): a write SQLite cannot make is a 507 with a plain message.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activateTestImage, startTestServer, type TestServer } from './test-support/test-server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
  t.server.core.venues.create({ code: 'CORO', name: 'Coronado' });
  t.server.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-5' });
  await activateTestImage(t.server, 'KXP2');
});
afterAll(async () => t.close());

describe('a full disk', () => {
  it('is a 507 on both listeners, nothing is half-written, and it works again once there is room', async () => {
    const pages = t.server.db.pragma('page_count', { simple: true }) as number;
    // The database may not grow: every write that needs a new page fails with SQLITE_FULL, as on a full disk.
    t.server.db.pragma(`max_page_count = ${pages}`);
    // Fill what room the tables' pages still have, down to the last byte, so the requests' writes cannot fit either.
    const fillers = [
      t.server.db.prepare("INSERT INTO audit_log (at, actor, action, target, details) VALUES ('', '', '', NULL, @text)"),
      t.server.db.prepare("INSERT INTO venues (code, name, location, created_at) VALUES (@code, 'v', @text, '')"),
      t.server.db.prepare(`INSERT INTO deployments (hostname, product_type, venue_code, status, started_at, updated_at)
                           VALUES ('KXP2-CORO-9' || @text, 'KXP2', 'CORO', 'assigned', '', '')`),
    ];
    let n = 36 ** 3;
    for (const filler of fillers) {
      for (const size of [1000, 100, 10, 0]) {
        try {
          for (;;) filler.run({ text: 'x'.repeat(size), code: (n++).toString(36).toUpperCase() });
        } catch (error) {
          expect((error as { code?: string }).code).toBe('SQLITE_FULL');
        }
      }
    }
    const management = await t.as.admin.post('/api/venues', { code: 'ARIA', name: 'x'.repeat(100) });
    expect(management.status).toBe(507);
    expect(management.body).toEqual({ success: false, error: expect.stringContaining('disk is full'), code: 'INSUFFICIENT_STORAGE' });
    const device = await t.device.post('/api/config', { product_type: 'KXP2', venue_code: 'CORO', serial_number: 'abc1' });
    expect(device.status).toBe(507);
    expect(device.body.code).toBe('INSUFFICIENT_STORAGE');
    expect(t.server.core.venues.stats('CORO').assigned).toBe(0);

    t.server.db.pragma('max_page_count = 1073741823');
    const again = await t.device.post('/api/config', { product_type: 'KXP2', venue_code: 'CORO', serial_number: 'abc1' });
    expect(again.status).toBe(200);
  });
});

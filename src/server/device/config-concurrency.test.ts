import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activateTestImage, startTestServer, type TestServer } from '../test-support/test-server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({}, { users: false });
});
afterAll(async () => t.close());

describe('/api/config under concurrency', () => {
  it('serves 200 simultaneous devices from a 20-number KXP2 batch: exactly 20 distinct hostnames, the rest a clear 4xx', async () => {
    const { core } = t.server;
    core.venues.create({ code: 'CORO', name: 'Coronado' });
    core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-20' });
    await activateTestImage(t.server, 'KXP2');
    const batch = core.batches.create({ venue_code: 'CORO', product_type: 'KXP2', total_count: 20 });
    core.batches.start(batch.id);

    const answers = await Promise.all(
      Array.from({ length: 200 }, async (_, n) => {
        const serial = `10000000${n.toString(16).padStart(8, '0')}`;
        const response = await fetch(`${t.deviceUrl}/api/config`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ serial_number: serial, mac_address: null, venue_code: null }),
        });
        return { serial, status: response.status, body: (await response.json()) as Record<string, unknown> };
      }),
    );

    const served = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status !== 200);
    expect(served).toHaveLength(20);
    const hostnames = served.map((a) => a.body.hostname as string);
    expect(new Set(hostnames).size).toBe(20);
    expect([...hostnames].sort()).toEqual(Array.from({ length: 20 }, (_, i) => `KXP2-CORO-${String(i + 1).padStart(3, '0')}`));
    expect(served.every((a) => a.body.batch_id === batch.id)).toBe(true);

    expect(refused).toHaveLength(180);
    for (const answer of refused) {
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expect(answer.status).toBeLessThan(500);
      expect(answer.body).toMatchObject({ success: false, code: 'NO_ACTIVE_BATCH', error: expect.stringMatching(/No deployment batch is active/) });
    }

    // All names out, all 20 devices imaging: the batch stays active (serving nobody) until they finish.
    expect(core.batches.get(batch.id)).toMatchObject({ status: 'active', remaining_count: 0, handed_out_count: 20, imaging_count: 20 });
    // Nothing double-assigned: each hostname is held by exactly the serial that was told it.
    const pool = core.pool.list({ venue: 'CORO', limit: 500 });
    const assigned = pool.items.filter((entry) => entry.status === 'assigned');
    expect(assigned).toHaveLength(20);
    for (const answer of served) {
      expect(assigned.find((entry) => entry.hostname === answer.body.hostname)?.serial_number).toBe(answer.serial);
    }
    const deployments = core.deployments.list({ limit: 500 });
    expect(deployments.total).toBe(20);
    expect(new Set(deployments.items.map((d) => d.hostname)).size).toBe(20);
  });
});

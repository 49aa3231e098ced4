// Only the device a deployment was configured for can report for it (#16): a per-deployment secret in the
// configuration answer, of which the server keeps only a hash.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { activateTestImage, startTestServer, type TestServer } from '../test-support/test-server.js';

let t: TestServer;
afterEach(async () => t.close());

async function start(overrides: Parameters<typeof startTestServer>[0] = {}) {
  t = await startTestServer(overrides, { users: false });
  t.server.core.venues.create({ code: 'CORO', name: 'Coronado' });
  t.server.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-5' });
  await activateTestImage(t.server, 'KXP2');
  return (await t.device.post('/api/config', { product_type: 'KXP2', venue_code: 'CORO', serial_number: '10000000aa01' })).body;
}
const report = (body: Record<string, unknown>) => t.device.post('/api/status', body);
const statusOf = (id: number) => t.server.core.deployments.get(id).status;

describe('deployment tokens', () => {
  it('are issued in the configuration answer and kept only as a hash', async () => {
    const config = await start();
    expect(config.deployment_token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const stored = t.server.db.prepare('SELECT * FROM deployment_tokens').all();
    expect(stored).toEqual([{ deployment_id: config.deployment_id, token_sha256: expect.stringMatching(/^[0-9a-f]{64}$/), confirmed_at: null, checkin_token_sha256: expect.stringMatching(/^[0-9a-f]{64}$/), checkin_used_at: null }]);
    t.server.db.pragma('wal_checkpoint(TRUNCATE)');
    expect(readFileSync(join(t.dataDir, 'pitcrew.db')).includes(config.deployment_token)).toBe(false);
    const again = (await t.device.post('/api/config', { product_type: 'KXP2', venue_code: 'CORO', serial_number: '10000000aa01' })).body;
    expect(again.deployment_token).not.toBe(config.deployment_token);
  });

  it('stop anyone else on the device network from marking a deployment completed, by hostname or by id', async () => {
    const config = await start();
    const forged = await report({ hostname: config.hostname, status: 'completed', deployment_token: 'x'.repeat(32) });
    expect(forged.status).toBe(403);
    expect(forged.body).toMatchObject({ code: 'FORBIDDEN', error: expect.stringContaining('not the one deployment') });
    // The real installer reports with its token; from then on a report without one is not from it.
    expect((await report({ deployment_id: config.deployment_id, status: 'downloading', progress: 5, deployment_token: config.deployment_token })).status).toBe(200);
    const without = await report({ hostname: config.hostname, status: 'completed' });
    expect(without.status).toBe(403);
    expect(without.body.error).toMatch(/carry its deployment_token, and this one did not/);
    expect(statusOf(config.deployment_id)).toBe('downloading');
    expect((await report({ deployment_id: config.deployment_id, status: 'completed', deployment_token: config.deployment_token })).status).toBe(200);
    expect(statusOf(config.deployment_id)).toBe('completed');
  });

  it('leave installers that never send one working, unless the operator requires them', async () => {
    const config = await start();
    expect((await report({ hostname: config.hostname, status: 'success' })).status).toBe(200);
    expect(statusOf(config.deployment_id)).toBe('completed');
    await t.close();

    const strict = await start({ requireDeploymentToken: '1' });
    const refused = await report({ hostname: strict.hostname, status: 'success' });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatch(/PITCREW_REQUIRE_DEPLOYMENT_TOKEN/);
    expect(statusOf(strict.deployment_id)).toBe('assigned');
    expect((await report({ deployment_id: strict.deployment_id, status: 'completed', deployment_token: strict.deployment_token })).status).toBe(200);
  });
});

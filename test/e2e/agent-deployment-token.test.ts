// The installer bundle against a server that requires deployment tokens (PITCREW_REQUIRE_DEPLOYMENT_TOKEN): every
// manifest, chunk and raw-image request carries the token of its configuration answer, so the installation runs
// through by either delivery path; an image request without one is refused.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { coroBoardArgs, createVenueWithKarts, listDeployments, registerActiveImage, runAgentBundle, useAgentE2e } from '../../src/agent/test-support/agent-e2e.harness.js';

// Each test starts its server itself: one that requires deployment tokens.
const e2e = useAgentE2e('pitcrew-token-e2e-', { image: { flavour: 'rpi-preseed' }, serverBeforeEach: false });

async function start() {
  const t = await e2e.startServer({ requireDeploymentToken: '1' });
  await createVenueWithKarts(t, 'CORO', '1-9');
  return registerActiveImage(t, e2e.image.path, 'KXP2', '2025.12.1');
}

const device = (serial: string, disk: string) => coroBoardArgs(serial, disk, e2e.server.deviceUrl);

describe('pitcrew-agent where the server requires deployment tokens', () => {
  it('installs by image delivery v2, every manifest and chunk request carrying its token', async () => {
    const registered = await start();
    const { dir, bundle, server: t } = e2e;
    expect(registered.delivery!.chunk_count).toBeGreaterThan(1);
    const agent = await runAgentBundle(bundle, device('10000000000e0001', join(dir, 'v2.img')));
    expect(agent.code, agent.stderr).toBe(0);
    expect(agent.stdout).toMatch(/image delivery v2/);
    const [deployment] = await listDeployments(t, { search: '10000000000e0001' });
    expect(deployment).toMatchObject({ status: 'completed' });
    // Without the installer's token the same chunks are not to be had.
    const chunk = await fetch(`${t.deviceUrl}/images/${encodeURIComponent(registered.filename)}.chunks/0`);
    expect(chunk.status).toBe(401);
  });

  it('installs from the raw image (no chunks on the server) with its token', async () => {
    const registered = await start();
    const { dir, bundle, image, server: t } = e2e;
    t.server.db.prepare('DELETE FROM image_chunks WHERE image_id = ?').run(registered.id);
    t.server.db.prepare('UPDATE images SET block_map = NULL, mapped_bytes = NULL, compressed_bytes = NULL WHERE id = ?').run(registered.id);
    const agent = await runAgentBundle(bundle, device('10000000000e0002', join(dir, 'raw.img')));
    expect(agent.code, agent.stderr).toBe(0);
    expect(agent.stdout).toMatch(/raw image: [\d.]+ MiB/);
    const [deployment] = await listDeployments(t, { search: '10000000000e0002' });
    expect(deployment).toMatchObject({ status: 'completed', bytes_total: image.size });
    expect((await fetch(`${t.deviceUrl}/images/${encodeURIComponent(registered.filename)}`, { method: 'HEAD' })).status).toBe(401);
  });
});

import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activateTestImage, startTestServer, type TestServer } from '../test-support/test-server.js';
import { tinyDiskImage } from '../../disk-layout/test-support/tiny-disk-image.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => t.close());

describe('images API', () => {
  it('lists images, activates one per product atomically, and deletes inactive ones with their file', async () => {
    const first = await activateTestImage(t.server, 'KXP2', '1.0.0');
    const second = (await t.server.core.images.upload({ product_type: 'KXP2', version: '1.1.0', description: 'next' }, 'next.img', (await import('node:stream')).Readable.from([tinyDiskImage('v2')]))).id;
    const list = await t.as.viewer.get('/api/images');
    expect(list.status).toBe(200);
    expect(list.body.images.map((i: { version: string; active: boolean }) => [i.version, i.active])).toEqual(expect.arrayContaining([['1.0.0', true], ['1.1.0', false]]));

    const activated = await t.as.operator.post(`/api/images/${second}/activate`);
    expect(activated.status).toBe(200);
    expect(activated.body).toMatchObject({ success: true, image: { id: second, active: true }, checksum: activated.body.image.sha256, filename: activated.body.image.filename });
    expect(t.server.core.images.get(first).active).toBe(false);

    const refused = await t.as.operator.delete(`/api/images/${second}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatch(/is the active image/);

    const path = t.server.core.imageStore.pathOf(t.server.core.images.get(first).filename);
    expect(existsSync(path)).toBe(true);
    expect((await t.as.operator.delete(`/api/images/${first}`)).body).toEqual({ success: true });
    expect(existsSync(path)).toBe(false);
    expect((await t.as.operator.delete(`/api/images/${first}`)).status).toBe(404);
    expect((await t.as.operator.post('/api/images/9999/activate')).status).toBe(404);
    expect((await t.as.operator.post('/api/images/x/activate')).status).toBe(400);
  });

  it('lets viewers list but not change images', async () => {
    const id = await activateTestImage(t.server, 'RXP2', '3.0.0');
    expect((await t.as.viewer.post(`/api/images/${id}/activate`)).status).toBe(403);
    expect((await t.as.viewer.delete(`/api/images/${id}`)).status).toBe(403);
    expect(t.server.core.images.get(id).active).toBe(true);
  });
});

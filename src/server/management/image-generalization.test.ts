// The per-image generalisation switch and steps over real HTTP: the steps listed by inspecting the image at
// registration, the switch changed with PUT and handed to devices in the config answer, and the steps a device
// reports with its final report shown with the image.
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_CLONE_ARTEFACTS, buildDiskImage, makeTempDir } from '../../disk-layout/test-support/disk-image.builder.js';
import { GENERALIZATION_STEPS, NOT_IN_THIS_IMAGE, type GeneralizationReport } from '../../contracts/generalization.js';
import type { MasterImage } from '../../contracts/domain.js';
import { startTestServer, type TestServer } from '../test-support/test-server.js';

describe('image generalisation', () => {
  let dir: string;
  let t: TestServer;
  let used: MasterImage;
  let clean: MasterImage;

  beforeAll(async () => {
    dir = await makeTempDir('pitcrew-generalization-test-');
    t = await startTestServer({}, { users: true });
    t.server.core.venues.create({ code: 'GNRL', name: 'Generalisation' });
    t.server.core.pool.importKartNumbers({ venue_code: 'GNRL', numbers: '1-5' });
    const usedFile = await buildDiskImage(dir, { flavour: 'firstrun', artefacts: ALL_CLONE_ARTEFACTS, fileName: 'used.img' });
    const cleanFile = await buildDiskImage(dir, { flavour: 'firstrun', fileName: 'clean.img' });
    used = await t.server.core.images.registerFile({ product_type: 'KXP2', version: '1.0.0' }, usedFile.path);
    clean = await t.server.core.images.registerFile({ product_type: 'RXP2', version: '1.0.0' }, cleanFile.path);
    t.server.core.images.activate(used.id);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const config = (serial: string) => t.device.post('/api/config', { product_type: 'KXP2', venue_code: 'GNRL', serial_number: serial });

  it('lists the steps an image will get from its root filesystem at registration, on by default', async () => {
    const answer = await t.as.viewer.get(`/api/images/${used.id}`);
    expect(answer.status).toBe(200);
    const image = answer.body.image as MasterImage;
    expect(image.generalize).toBe(true);
    expect(image.generalization_preview?.problem).toBeNull();
    expect(image.generalization_preview?.steps?.filter((s) => s.done).map((s) => s.step)).toEqual([...GENERALIZATION_STEPS]);
    expect(answer.body.generalization).toBeNull();

    const cleanImage = (await t.as.viewer.get(`/api/images/${clean.id}`)).body.image as MasterImage;
    expect(cleanImage.generalization_preview?.steps?.every((s) => !s.done && s.note.startsWith(NOT_IN_THIS_IMAGE))).toBe(true);
  });

  it('tells devices to generalise, and stops when an operator turns the switch off (audited), a viewer may not', async () => {
    const on = await config('1000000000000a01');
    expect(on.status).toBe(200);
    expect(on.body.generalize).toBe(true);

    expect((await t.as.viewer.put(`/api/images/${used.id}`, { generalize: false })).status).toBe(403);
    expect((await t.as.operator.put(`/api/images/${used.id}`, {})).status).toBe(400);
    const off = await t.as.operator.put(`/api/images/${used.id}`, { generalize: false });
    expect(off.status).toBe(200);
    expect(off.body.image.generalize).toBe(false);
    expect((await config('1000000000000a02')).body.generalize).toBe(false);
    const audit = await t.as.admin.get('/api/audit?limit=5');
    expect(audit.body.items.map((e: { action: string; target: string }) => [e.action, e.target])).toContainEqual(['image.update', 'KXP2 1.0.0']);

    const back = await t.as.operator.put(`/api/images/${used.id}`, { generalize: true, description: 'captured from kart 7' });
    expect(back.body.image).toMatchObject({ generalize: true, description: 'captured from kart 7' });
  });

  it("keeps the steps a device reports with its final report and shows the newest with the image", async () => {
    const answer = await config('1000000000000a03');
    const { deployment_id, deployment_token, hostname } = answer.body;
    const steps: GeneralizationReport = GENERALIZATION_STEPS.map((step, i) => ({ step, done: i % 2 === 0, note: i % 2 === 0 ? 'removed' : NOT_IN_THIS_IMAGE }));
    const report = (status: string, extra: Record<string, unknown> = {}) =>
      t.device.post('/api/status', { status, deployment_id, deployment_token, hostname, ...extra });

    expect((await report('customizing')).status).toBe(200);
    expect((await report('completed', { message: 'installed 1.0.0; generalised: machine-id', generalization: steps })).status).toBe(200);

    const detail = await t.as.viewer.get(`/api/images/${used.id}`);
    expect(detail.body.generalization).toMatchObject({ deployment_id, hostname, steps });

    const invalid = await t.device.post('/api/status', { status: 'completed', deployment_id, deployment_token, generalization: [{ step: 'wipe-disk', done: true, note: '' }] });
    expect(invalid.status).toBe(400);
  });
});

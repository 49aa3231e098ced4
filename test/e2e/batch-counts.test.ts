// A batch tells the truth: names handed out, devices imaging, succeeded and failed are separate counts that follow
// the devices live; a batch whose names are gone is "imaging", not complete, until its devices finish; and only the
// batch the next device is really served from is labelled "Serving".
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiSession } from './support/api.session.js';
import { waitForLive } from './support/browser.harness.js';
import { openDashboard, type Dashboard } from './support/dashboard.session.js';
import { FakeDevice } from './support/fake-device.js';
import type { E2eServer } from './support/server.harness.js';
import { OPEN_BATCH_STATUSES, type Batch } from '../../src/contracts/domain.js';

type BatchAnswer = { batch: { id: number } };

describe('batch counts and the serving batch', () => {
  let dashboard: Dashboard;
  let server: E2eServer;
  let page: Page;
  const ids = { morning: 0, spares: 0 };

  let api: ApiSession;

  beforeAll(async () => {
    dashboard = await openDashboard({
      prepare: async (admin) => {
        api = admin;
        await admin.post('/api/venues', { code: 'ARIA', name: 'Aria Raceway' });
        await admin.post('/api/kart-numbers', { venue_code: 'ARIA', numbers: '1-30' });
        await admin.activateNewImage('KXP2', '2.0.0', 64 * 1024);
      },
    });
    ({ server, page } = dashboard);
  });

  /**
   * Each test's own queue: whatever is still open is cancelled, then two started batches: Morning session (two
   * devices, priority 5, so it serves first) and Spares (three). `path` is loaded once they exist.
   */
  const arrangeBatches = async (path: (ids: { morning: number; spares: number }) => string) => {
    const { batches } = await api.get<{ batches: Batch[] }>('/api/batches');
    for (const batch of batches.filter((b) => OPEN_BATCH_STATUSES.includes(b.status))) await api.post(`/api/batches/${batch.id}/cancel`);
    ids.morning = (await api.post<BatchAnswer>('/api/batches', { venue_code: 'ARIA', product_type: 'KXP2', total_count: 2, priority: 5, name: 'Morning session' })).batch.id;
    ids.spares = (await api.post<BatchAnswer>('/api/batches', { venue_code: 'ARIA', product_type: 'KXP2', total_count: 3, name: 'Spares' })).batch.id;
    await api.post(`/api/batches/${ids.morning}/start`);
    await api.post(`/api/batches/${ids.spares}/start`);
    await page.goto(path(ids));
    await waitForLive(page);
  };

  afterAll(() => dashboard?.close());

  const activity = (id: number, value: string) => page.locator(`[data-testid="batch-activity-${id}"][data-activity="${value}"]`).waitFor();
  const counts = (id: number, expected: { served: number; imaging: number; succeeded: number; failed: number }) =>
    page
      .locator(`[data-testid="batch-progress-${id}"][data-served="${expected.served}"][data-imaging="${expected.imaging}"][data-succeeded="${expected.succeeded}"][data-failed="${expected.failed}"]`)
      .waitFor();

  it('labels only the highest-priority active batch as serving', async () => {
    await arrangeBatches(() => '/batches');
    await activity(ids.morning, 'serving');
    await activity(ids.spares, 'queued');
    // Both are "active"; only one serves.
    await page.locator(`[data-testid="batch-item-${ids.spares}"][data-status="active"]`).waitFor();
  });

  it('keeps a batch whose names are all handed out active and imaging until its devices finish, counting each outcome', async () => {
    await arrangeBatches(() => '/batches');
    const [a, b] = [FakeDevice.numbered(server.deviceUrl, 1), FakeDevice.numbered(server.deviceUrl, 2)];
    await a.requestConfig();
    await b.requestConfig();
    await counts(ids.morning, { served: 2, imaging: 2, succeeded: 0, failed: 0 });
    // Its names are gone: it no longer serves, the next batch does.
    await activity(ids.morning, 'imaging');
    await activity(ids.spares, 'serving');
    expect(await page.getByTestId(`batch-handed-out-${ids.morning}`).textContent()).toBe('2 of 2 names handed out');

    await a.reportDownload(50);
    await a.report('completed', { progress: 100 });
    await counts(ids.morning, { served: 2, imaging: 1, succeeded: 1, failed: 0 });
    // One device still imaging: not complete.
    await page.locator(`[data-testid="batch-item-${ids.morning}"][data-status="active"]`).waitFor();

    await b.report('failed', { error_message: 'Verification failed: the card read back wrong.' });
    // The last device finished: the batch completes, with one success and one failure on record.
    await page.getByTestId(`batch-row-${ids.morning}`).waitFor();
    expect(await page.getByTestId(`batch-row-succeeded-${ids.morning}`).textContent()).toBe('1');
    expect(await page.getByTestId(`batch-row-failed-${ids.morning}`).textContent()).toBe('1');
    const { batch } = await (await page.request.get(`/api/batches/${ids.morning}`)).json() as { batch: Record<string, unknown> };
    expect(batch).toMatchObject({ status: 'completed', remaining_count: 0, handed_out_count: 2, imaging_count: 0, succeeded_count: 1, failed_count: 1 });
  });

  it('shows the counts and the serving label on the batch page, live', async () => {
    await arrangeBatches(({ morning }) => `/batches/${morning}`);
    await activity(ids.morning, 'serving');
    await counts(ids.morning, { served: 0, imaging: 0, succeeded: 0, failed: 0 });
    const device = FakeDevice.numbered(server.deviceUrl, 3);
    await device.requestConfig();
    await counts(ids.morning, { served: 1, imaging: 1, succeeded: 0, failed: 0 });
    await device.report('completed', { progress: 100 });
    await counts(ids.morning, { served: 1, imaging: 0, succeeded: 1, failed: 0 });
    await page.getByTestId('batch-detail-status').filter({ hasText: 'active' }).waitFor();
  });
});

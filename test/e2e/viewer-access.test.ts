// A viewer reads everything and can change nothing: no page offers them a button the server would refuse, and
// the admin pages are not theirs.
import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDashboard, type Dashboard } from './support/dashboard.session.js';
import { FakeDevice } from './support/fake-device.js';
import { tinyDiskImage } from '../../src/disk-layout/test-support/tiny-disk-image.js';

/** Every control that changes something, by its test id prefix. */
const WRITE_CONTROLS = [
  'venue-create', 'venue-edit-', 'venue-delete-', 'venue-import', 'venue-detail-edit', 'venue-detail-delete',
  'kart-import-open', 'kart-add-open', 'pool-release-', 'pool-retire-', 'pool-delete-',
  'batch-create-open', 'batch-start-', 'batch-pause-', 'batch-cancel-', 'batch-drag-', 'batch-priority-edit-', 'batch-peer-toggle-', 'batch-linger-edit-',
  'image-upload', 'image-activate-', 'image-delete-',
  'user-create', 'token-create', 'nav-users',
];
const writeControls = (page: Page) => page.locator(WRITE_CONTROLS.map((id) => `[data-testid^="${id}"]`).join(', '));

describe('viewer role in the browser', () => {
  let dashboard: Dashboard;
  let page: Page;
  let batchId = 0;

  beforeAll(async () => {
    dashboard = await openDashboard({
      prepare: async (admin, { deviceUrl }) => {
        await admin.post('/api/venues', { code: 'BLSX', name: 'Blue Six Indoor Karting', location: 'Leeds' });
        await admin.post('/api/kart-numbers', { venue_code: 'BLSX', numbers: '1-12' });
        await admin.activateNewImage('KXP2', '3.0.0', 256 * 1024);
        await admin.uploadImage('KXP2', '3.0.1', tinyDiskImage(randomBytes(128 * 1024)), 'kxp2-3.0.1.img');
        batchId = await admin.startBatch({ venue_code: 'BLSX', product_type: 'KXP2', total_count: 4 });
        await admin.post('/api/batches', { venue_code: 'BLSX', product_type: 'KXP2', total_count: 2 });
        const device = FakeDevice.numbered(deviceUrl, 42);
        await device.requestConfig();
        await device.reportDownload(40);
        await admin.post('/api/users', { username: 'watcher', password: 'just-looking-1', role: 'viewer' });
      },
      signInAs: { username: 'watcher', password: 'just-looking-1' },
    });
    ({ page } = dashboard);
  });

  afterAll(() => dashboard?.close());

  const pages: Array<[string, string]> = [
    ['/', 'active-batch'],
    ['/venues', 'venue-row-BLSX'],
    ['/venues/BLSX', 'pool-kxp2'],
    ['/kart-numbers', 'pool-row-KXP2-BLSX-001'],
    ['/batches', 'batch-queue'],
    ['/images', 'images-table'],
    ['/deployments', 'deployments-table'],
    ['/reports', 'report, report-empty'],
    ['/system', 'system-status'],
  ];

  it.each(pages)('shows %s with its data and without any control that changes something', async (path, ready) => {
    await page.goto(path);
    await page.locator(ready.split(', ').map((id) => `[data-testid="${id}"]`).join(', ')).first().waitFor();
    expect(await page.getByTestId('current-role').textContent()).toBe('viewer');
    expect(await writeControls(page).count()).toBe(0);
  });

  it('shows a batch detail page without start, pause or cancel', async () => {
    await page.goto(`/batches/${batchId}`);
    await page.getByTestId('batch-detail-status').waitFor();
    expect(await writeControls(page).count()).toBe(0);
  });

  it('keeps the admin and create pages away from a viewer', async () => {
    await page.goto('/users');
    await page.getByTestId('not-found').filter({ hasText: 'Only administrators' }).waitFor();
    await page.goto('/batches/new');
    await page.waitForURL(/\/batches$/);
    expect(await page.getByTestId('batch-form').count()).toBe(0);
  });
});

// A fleet at once: sixty devices report in parallel and the dashboard keeps up, ending with every card complete
// and the day's counters right. Bounded: 60 devices × 6 reports.
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiSession } from './support/api.session.js';
import { launchBrowser, openPage, signIn, waitForLive } from './support/browser.harness.js';
import { FakeDevice } from './support/fake-device.js';
import { ADMIN_PASSWORD, startE2eServer, type E2eServer } from './support/server.harness.js';

const FLEET = 60;

describe('dashboard with a fleet reporting at once', () => {
  let server: E2eServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    server = await startE2eServer();
    const admin = await ApiSession.login(server.managementUrl, 'admin', ADMIN_PASSWORD);
    await admin.post('/api/venues', { code: 'ARIA', name: 'Aria Raceway' });
    const { image } = await admin.uploadImage('RXP2', '2.0.0', randomBytes(1024 * 1024), 'rxp2-2.0.0.img');
    await admin.post(`/api/images/${image.id}/activate`);
    const { batch } = await admin.post<{ batch: { id: number } }>('/api/batches', { venue_code: 'ARIA', product_type: 'RXP2', total_count: FLEET, name: 'Whole grid' });
    await admin.post(`/api/batches/${batch.id}/start`);
    browser = await launchBrowser();
    ({ page } = await openPage(browser, server.managementUrl));
    await signIn(page, 'admin', ADMIN_PASSWORD);
    await waitForLive(page);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('shows every device and ends with all of them completed', async () => {
    const devices = Array.from({ length: FLEET }, (_, i) => FakeDevice.numbered(server.deviceUrl, 1000 + i));
    await Promise.all(devices.map((d) => d.requestConfig()));
    await page.getByTestId('live-count').filter({ hasText: new RegExp(`^${FLEET}$`) }).waitFor();

    await Promise.all(
      devices.map(async (device) => {
        for (const progress of [20, 40, 60, 80]) await device.reportDownload(progress);
        await device.report('verifying', { progress: 95 });
        await device.report('completed', { progress: 100 });
      }),
    );

    await page.getByTestId('live-count').filter({ hasText: /^0$/ }).waitFor();
    await page.getByTestId('stat-completed-value').filter({ hasText: new RegExp(`^${FLEET}$`) }).waitFor();
    expect(await page.locator('[data-testid^="deployment-card-"][data-hostname][data-status="completed"]').count()).toBe(FLEET);
    await page.getByTestId('active-batch-empty').waitFor();
  });
});

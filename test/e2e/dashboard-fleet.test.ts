// A fleet at once: sixty devices report in parallel and the dashboard keeps up, ending with every card complete
// and the day's counters right. Bounded: 60 devices × 6 reports.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForLive } from './support/browser.harness.js';
import { openDashboard, type Dashboard } from './support/dashboard.session.js';
import { FakeDevice } from './support/fake-device.js';
import type { E2eServer } from './support/server.harness.js';

const FLEET = 60;

describe('dashboard with a fleet reporting at once', () => {
  let dashboard: Dashboard;
  let server: E2eServer;
  let page: Page;

  beforeAll(async () => {
    dashboard = await openDashboard({
      prepare: async (admin) => {
        await admin.post('/api/venues', { code: 'ARIA', name: 'Aria Raceway' });
        await admin.activateNewImage('RXP2', '2.0.0', 1024 * 1024);
        await admin.startBatch({ venue_code: 'ARIA', product_type: 'RXP2', total_count: FLEET, name: 'Whole grid' });
      },
    });
    ({ server, page } = dashboard);
    await waitForLive(page);
  });

  afterAll(() => dashboard?.close());

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

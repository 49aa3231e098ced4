// With the server gone the dashboard says so across the page and greys what it shows (frozen since the drop), and
// both go away by themselves once the server is back.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForLive } from './support/browser.harness.js';
import { openDashboard, type Dashboard } from './support/dashboard.session.js';
import type { E2eServer } from './support/server.harness.js';

describe('the disconnected banner', () => {
  let dashboard: Dashboard;
  let server: E2eServer;
  let page: Page;

  beforeAll(async () => {
    dashboard = await openDashboard();
    ({ server, page } = dashboard);
    await waitForLive(page);
  });

  afterAll(() => dashboard?.close());

  it('appears when the server stops and disappears when it returns', async () => {
    expect(await page.getByTestId('disconnected-banner').count()).toBe(0);
    await server.running.stop();
    await page.getByTestId('disconnected-banner').filter({ hasText: 'Disconnected from the Pitcrew server' }).waitFor();
    await page.locator('main[data-stale="true"]').waitFor();

    await server.restart();
    await waitForLive(page);
    await page.getByTestId('disconnected-banner').waitFor({ state: 'detached' });
    expect(await page.locator('main[data-stale="true"]').count()).toBe(0);
  });
});

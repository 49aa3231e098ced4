// The dashboard stays live across a server restart: it shows the connection dropping, reconnects by itself,
// reloads what it missed while the server was down, and keeps following new events. It also shows what the
// `pitcrew` command changes behind the server's back.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPitcrewProcess } from '../../src/cli/test-support/cli-process.js';
import { waitForLive } from './support/browser.harness.js';
import { openDashboard, type Dashboard } from './support/dashboard.session.js';
import { FakeDevice } from './support/fake-device.js';
import type { E2eServer } from './support/server.harness.js';

describe('live updates across a server restart', () => {
  let dashboard: Dashboard;
  let server: E2eServer;
  let page: Page;

  beforeAll(async () => {
    dashboard = await openDashboard({
      prepare: async (admin) => {
        await admin.post('/api/venues', { code: 'MTKP', name: 'Mount Kart Park' });
        await admin.activateNewImage('RXP2', '1.9.2', 64 * 1024);
        await admin.startBatch({ venue_code: 'MTKP', product_type: 'RXP2', total_count: 10 });
      },
    });
    ({ server, page } = dashboard);
  });

  afterAll(() => dashboard?.close());

  it('reconnects after a restart, catches up on what it missed and keeps following events', async () => {
    await page.goto('/');
    await waitForLive(page);
    const before = FakeDevice.numbered(server.deviceUrl, 1);
    await before.requestConfig();
    await page.getByTestId(`deployment-card-${before.config!.deployment_id}`).waitFor();

    await server.running.stop();
    await page.locator('[data-testid="live-status"]:not([data-state="connected"])').waitFor();

    await server.restart();
    // A report made right after the restart, possibly before the page is back: it must show up either way.
    await before.reportDownload(60);
    await waitForLive(page);
    await page.locator(`[data-testid="deployment-card-${before.config!.deployment_id}"][data-progress="60"]`).waitFor();

    const after = FakeDevice.numbered(server.deviceUrl, 2);
    const config = await after.requestConfig();
    expect(config.hostname).toMatch(/^RXP2-MTKP-/);
    await page.locator(`[data-testid="deployment-card-${config.deployment_id}"][data-status="assigned"]`).waitFor();
    await after.report('completed', { progress: 100 });
    await page.locator(`[data-testid="deployment-card-${config.deployment_id}"][data-status="completed"]`).waitFor();
  });

  it('shows venues and kart numbers the pitcrew command adds while the page is open, without a reload', async () => {
    await page.goto('/venues');
    await waitForLive(page);
    await page.getByTestId('venue-row-MTKP').waitFor();
    const pitcrew = (...args: string[]) => runPitcrewProcess(server.dataDir, args);
    expect(await pitcrew('venue', 'create', 'CORO', 'Coronado')).toMatchObject({ status: 0, stderr: '' });
    await page.getByTestId('venue-row-CORO').waitFor();
    expect(await pitcrew('kart-import', 'CORO', '1-20')).toMatchObject({ status: 0, stderr: '' });
    await page.getByTestId('venue-pool-CORO').filter({ hasText: '20 free' }).waitFor();
  });
});

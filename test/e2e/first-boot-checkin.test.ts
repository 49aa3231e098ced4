// Written vs booted on the dashboard: a card written by an installer that added the first-boot check-in reads
// "awaiting boot", then, past the boot deadline without a check-in, waits on the "needs attention" lane with the
// likely causes (also after a reload, from the server's own rule) until it checks in or someone acknowledges it;
// the history shows the check-in and what the booted system reported.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deployment } from '../../src/contracts/domain.js';
import { ApiSession } from './support/api.session.js';
import { waitForLive } from './support/browser.harness.js';
import { openDashboard, type Dashboard } from './support/dashboard.session.js';
import { FakeDevice } from './support/fake-device.js';
import { ADMIN_PASSWORD, type E2eServer } from './support/server.harness.js';

/** The server's default boot deadline (PITCREW_BOOT_DEADLINE_S), and a little more. */
const PAST_DEADLINE_MS = 16 * 60_000;

describe('written vs booted', () => {
  let dashboard: Dashboard;
  let server: E2eServer;
  let page: Page;
  let admin: ApiSession;
  // The server's clock runs ahead by this much when the test says time has passed.
  let serverAhead = 0;
  /** The card acknowledged without booting. */
  let neverBooted = '';

  beforeAll(async () => {
    dashboard = await openDashboard({
      server: { now: () => new Date(Date.now() + serverAhead) },
      prepare: async (session) => {
        await session.post('/api/venues', { code: 'ARIA', name: 'Aria Raceway' });
        await session.activateNewImage('RXP2', '2.0.0', 256 * 1024);
        await session.startBatch({ venue_code: 'ARIA', product_type: 'RXP2', total_count: 5, name: 'Pit wall' });
      },
    });
    ({ server, page } = dashboard);
    admin = await ApiSession.login(server.managementUrl, 'admin', ADMIN_PASSWORD);
    await page.clock.install();
    await page.reload();
    await waitForLive(page);
  });

  afterAll(() => dashboard?.close());

  // The page's clock jumps without running its timers: fast-forwarding them would trip the live connection's
  // heartbeat, and this is about what the page shows as time passes, not about reconnecting.
  const passTime = async (ms: number) => {
    serverAhead += ms;
    await page.clock.setSystemTime(Date.now() + serverAhead);
  };

  it('flags a written card that never checks in, with the likely causes, and lets it go when it checks in late', async () => {
    const silent = FakeDevice.numbered(server.deviceUrl, 1);
    const prompt = FakeDevice.numbered(server.deviceUrl, 2);
    for (const device of [silent, prompt]) {
      await device.requestConfig();
      await device.report('completed', { progress: 100, checkin_installed: true });
    }
    const silentId = silent.config!.deployment_id;
    const promptId = prompt.config!.deployment_id;
    await page.getByTestId(`recent-boot-${silentId}`).and(page.locator('[data-boot="awaiting"]')).waitFor();
    await prompt.checkIn();
    await page.getByTestId(`recent-boot-${promptId}`).and(page.locator('[data-boot="booted"]')).waitFor();

    await passTime(PAST_DEADLINE_MS);
    const item = page.getByTestId(`attention-item-${silentId}`);
    await item.and(page.locator('[data-reason="not-booted"]')).waitFor();
    expect(await item.getByTestId('attention-sentence').textContent()).toMatch(/^Written and verified 16 minutes ago, but the system never checked in from its first boot/);
    await item.getByTestId('attention-details-toggle').click();
    expect(await item.getByTestId('attention-causes').textContent()).toMatch(/boot order.*NVMe.*PITCREW_CHECKIN_URL.*master image/s);
    await page.getByTestId(`recent-boot-${silentId}`).and(page.locator('[data-boot="not-booted"]')).waitFor();
    expect(await page.getByTestId(`attention-item-${promptId}`).count()).toBe(0);

    // After a reload the server's own rule puts it back on the lane.
    await page.reload();
    await waitForLive(page);
    await item.and(page.locator('[data-reason="not-booted"]')).waitFor();
    expect((await admin.get<{ items: Deployment[] }>('/api/deployments?attention=true')).items.map((d) => d.id)).toEqual([silentId]);

    await silent.checkIn({ uptime_s: 90 });
    await item.waitFor({ state: 'detached' });
    await page.getByTestId('attention-none').waitFor();
    await page.getByTestId(`recent-boot-${silentId}`).and(page.locator('[data-boot="booted"]')).waitFor();
  });

  it('takes a not-booted card off the lane when acknowledged', async () => {
    const device = FakeDevice.numbered(server.deviceUrl, 3);
    await device.requestConfig();
    await device.report('completed', { progress: 100, checkin_installed: true });
    await passTime(PAST_DEADLINE_MS);
    const item = page.getByTestId(`attention-item-${device.config!.deployment_id}`);
    await item.and(page.locator('[data-reason="not-booted"]')).waitFor();
    await item.getByTestId('attention-acknowledge').click();
    await item.waitFor({ state: 'detached' });
    neverBooted = device.config!.hostname;
    expect(await admin.get<Deployment>(`/api/deployments/${device.config!.deployment_id}`)).toMatchObject({ status: 'completed', booted_at: null, attention_resolution: 'acknowledged' });
    expect((await admin.get<{ items: Deployment[] }>('/api/deployments?attention=true')).items).toEqual([]);
  });

  it('shows in the history which cards booted, and what a booted system reported', async () => {
    await page.goto('/deployments');
    const booted = FakeDevice.numbered(server.deviceUrl, 1).serial;
    const rows = page.locator('[data-testid^="deployment-row-"]');
    await rows.first().waitFor();
    const row = rows.filter({ hasText: booted.slice(-6) }).first();
    expect(await row.locator('[data-boot]').getAttribute('data-boot')).toBe('booted');
    expect(await rows.locator('[data-boot="booted"]').count()).toBe(2);
    // The acknowledged card stays "not booted" in the history: acknowledging is not booting.
    expect(await rows.locator('[data-boot="not-booted"]').count()).toBe(1);
    await row.locator('button').first().click();
    const detail = page.getByTestId('deployment-detail');
    await detail.getByTestId('deployment-detail-checkin').waitFor();
    expect(await detail.textContent()).toMatch(/Booted systemRaspberry Pi OS \(trixie\) · image 2\.0\.0/);
    expect(await detail.textContent()).toMatch(/Booted addresses10\.20\.0\.31/);
    await page.keyboard.press('Escape');

    // The history filters by the same rule: only the card that never booted.
    await page.getByTestId('dep-filter-boot').selectOption('not-booted');
    await page.waitForURL(/boot=not-booted/);
    await rows.locator('[data-boot="booted"]').first().waitFor({ state: 'detached' });
    expect(await rows.count()).toBe(1);
    expect(await rows.first().getAttribute('data-hostname')).toBe(neverBooted);

    // The batch's devices too.
    await page.goto('/batches/1');
    await page.locator('[data-testid^="batch-boot-"]').first().waitFor();
    expect(await page.locator('[data-testid^="batch-boot-"][data-boot="booted"]').count()).toBe(2);
    expect(await page.locator('[data-testid^="batch-boot-"][data-boot="not-booted"]').count()).toBe(1);
  });
});

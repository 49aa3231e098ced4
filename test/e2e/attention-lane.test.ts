// A failed device waits in "Needs attention" at the top of the dashboard with a plain sentence, its installer's own
// words behind a toggle, for as long as nobody acts (not just the minute finished cards stay); acknowledging it,
// marking it for a re-image or retiring its name takes it off the lane on the server too; the "Failed today" tile
// opens the list of failures. A board finished on a card the capacity check proved counterfeit waits there too, after
// the failures. Each test fails its own devices and opens the dashboard itself.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttentionReason } from '../../src/contracts/attention.js';
import type { CardIdentity } from '../../src/contracts/card-health.js';
import type { Deployment } from '../../src/contracts/domain.js';
import { ApiSession } from './support/api.session.js';
import { waitForLive } from './support/browser.harness.js';
import { openDashboard, type Dashboard } from './support/dashboard.session.js';
import { FakeDevice } from './support/fake-device.js';
import { ADMIN_PASSWORD, type E2eServer } from './support/server.harness.js';

const HASH_ON_DISK = 'a'.repeat(64);
const HASH_OF_IMAGE = 'b'.repeat(64);
const COUNTERFEIT_CARD: CardIdentity = { kind: 'sd', manufacturer: 'none (0x000000, typical of counterfeit cards)', name: 'NCard', serial: '0xdeadbeef', size_bytes: 1_024_209_543_168, capacity_check: 'wrapped' };
/** The lane's order, as the dashboard promises it. */
const LANE_ORDER: readonly AttentionReason[] = ['failed', 'not-booted', 'counterfeit-card', 'stalled'];

describe('the needs-attention lane', () => {
  let dashboard: Dashboard;
  let server: E2eServer;
  let page: Page;
  let admin: ApiSession;

  beforeAll(async () => {
    dashboard = await openDashboard({
      prepare: async (session) => {
        await session.post('/api/venues', { code: 'ARIA', name: 'Aria Raceway' });
        await session.activateNewImage('RXP2', '2.0.0', 256 * 1024);
        await session.startBatch({ venue_code: 'ARIA', product_type: 'RXP2', total_count: 10, name: 'Pit wall' });
      },
    });
    ({ server, page } = dashboard);
    admin = await ApiSession.login(server.managementUrl, 'admin', ADMIN_PASSWORD);
    // The page's clock is driven by the tests, so "past a minute" takes no minute.
    await page.clock.install();
  });

  const openDashboardPage = async () => {
    await page.goto('/');
    await waitForLive(page);
  };

  afterAll(() => dashboard?.close());

  it('holds a failed device with a plain sentence past the minute finished cards stay, until acknowledged', async () => {
    await openDashboardPage();
    const failing = FakeDevice.numbered(server.deviceUrl, 1);
    const finishing = FakeDevice.numbered(server.deviceUrl, 2);
    await failing.requestConfig();
    await finishing.requestConfig();
    await failing.reportDownload(40);
    await failing.report('verifying', { progress: 90 });
    await failing.report('failed', { error_message: `read-back verification failed: the disk holds sha256 ${HASH_ON_DISK}, the image is ${HASH_OF_IMAGE} (faulty or counterfeit storage?)`, message: 'failed while verifying' });
    await finishing.report('completed', { progress: 100 });
    const id = failing.config!.deployment_id;

    const item = page.getByTestId(`attention-item-${id}`);
    await item.getByTestId('attention-sentence').filter({ hasText: 'The card failed verification' }).waitFor();
    expect(await item.getByTestId('attention-sentence').textContent()).toMatch(/Replace the card and re-image/);
    expect(await item.getByTestId('attention-detail').count()).toBe(0);

    // The installer's words, hashes and all, behind the toggle and inside the card's width.
    await item.getByTestId('attention-details-toggle').click();
    const detail = item.getByTestId('attention-detail');
    await detail.filter({ hasText: HASH_ON_DISK }).waitFor();
    const overflow = await item.evaluate((card) => card.scrollWidth - card.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);

    // A minute and more later the completed card has left the board; the failure has not.
    const finishedCard = page.getByTestId(`deployment-card-${finishing.config!.deployment_id}`);
    // Shown as completed first: its minute counts from then (an earlier card of it, still assigned, would not leave).
    await page.locator(`[data-testid="deployment-card-${finishing.config!.deployment_id}"][data-status="completed"]`).waitFor();
    await page.clock.fastForward(61_000);
    await finishedCard.waitFor({ state: 'detached' });
    await item.waitFor();
    const needingAttention = async () => (await admin.get<{ items: Deployment[] }>('/api/deployments?attention=true')).items.map((d) => d.id);
    expect(await needingAttention()).toContain(id);
    expect(await page.getByTestId('attention-count').textContent()).toBe(String((await needingAttention()).length));

    await item.getByTestId('attention-acknowledge').click();
    await item.waitFor({ state: 'detached' });
    const record = await admin.get<Deployment>(`/api/deployments/${id}`);
    expect(record).toMatchObject({ status: 'failed', attention_resolution: 'acknowledged', attention_resolved_by: 'admin' });
    expect(await needingAttention()).not.toContain(id);
  });

  it('links the failed count to the list of the day\'s failures', async () => {
    const device = FakeDevice.numbered(server.deviceUrl, 5);
    await device.requestConfig();
    await device.report('failed', { error_message: 'writing /dev/mmcblk0 at byte 0 made no progress' });
    const { failed_today: failedToday } = await admin.get<{ failed_today: number }>('/api/stats');
    await openDashboardPage();
    await page.getByTestId('stat-failed-value').filter({ hasText: new RegExp(`^${failedToday}$`) }).waitFor();
    await page.getByTestId('stat-failed-link').click();
    await page.waitForURL(/\/deployments\?status=failed&from=\d{4}-\d{2}-\d{2}$/);
    const rows = page.locator('[data-testid^="deployment-row-"]');
    await rows.filter({ hasText: device.serial.slice(-8) }).waitFor();
    // The day's failures, all of them and nothing else.
    expect(await rows.evaluateAll((all) => all.map((row) => row.getAttribute('data-status')))).toEqual(Array(failedToday).fill('failed'));
  });

  it('marks a failure for a re-image: it leaves the lane and the device keeps its name when it asks again', async () => {
    await openDashboardPage();
    const device = FakeDevice.numbered(server.deviceUrl, 3);
    const first = await device.requestConfig();
    await device.report('failed', { error_message: 'the target /dev/mmcblk0 holds 4000000000 bytes but the image needs 8000000000' });
    const item = page.getByTestId(`attention-item-${first.deployment_id}`);
    await item.getByTestId('attention-sentence').filter({ hasText: 'too small' }).waitFor();
    await item.getByTestId('attention-reimage').click();
    await item.waitFor({ state: 'detached' });
    await page.getByTestId('toast').filter({ hasText: 'will re-image on its next boot' }).waitFor();

    const again = await device.requestConfig();
    expect(again.hostname).toBe(first.hostname);
    expect(await admin.get<Deployment>(`/api/deployments/${first.deployment_id}`)).toMatchObject({ attention_resolution: 'reimaged' });
  });

  it('retires a failed device\'s hostname after asking, and takes it off the lane', async () => {
    await openDashboardPage();
    const device = FakeDevice.numbered(server.deviceUrl, 4);
    const config = await device.requestConfig();
    await device.report('failed', { error_message: 'writing /dev/mmcblk0 at byte 4096 made no progress' });
    const item = page.getByTestId(`attention-item-${config.deployment_id}`);
    await item.getByTestId('attention-sentence').filter({ hasText: 'replace the card' }).waitFor();
    await item.getByTestId('attention-retire').click();
    await page.getByTestId('confirm-ok').click();
    await item.waitFor({ state: 'detached' });
    const pool = await admin.get<{ items: Array<{ hostname: string; status: string }> }>(`/api/kart-numbers?search=${config.hostname}`);
    expect(pool.items.find((entry) => entry.hostname === config.hostname)).toMatchObject({ status: 'retired' });
    expect(await admin.get<Deployment>(`/api/deployments/${config.deployment_id}`)).toMatchObject({ attention_resolution: 'acknowledged' });
  });

  it('holds a board finished on a counterfeit card after the failures, saying so once, until acknowledged', async () => {
    await openDashboardPage();
    const failing = FakeDevice.numbered(server.deviceUrl, 6);
    await failing.requestConfig();
    await failing.report('failed', { error_message: 'writing /dev/mmcblk0 at byte 0 made no progress' });
    const sold = FakeDevice.numbered(server.deviceUrl, 7);
    const { deployment_id: id } = await sold.requestConfig();
    // As the installer reports it: the card from the capacity check on, written all the same.
    await sold.report('downloading', { progress: 30, card: COUNTERFEIT_CARD });
    await sold.report('completed', { card: COUNTERFEIT_CARD, card_write_bps: 18_000_000, card_read_bps: 40_000_000 });
    const sound = FakeDevice.numbered(server.deviceUrl, 8);
    await sound.requestConfig();
    await sound.report('completed', { card: { ...COUNTERFEIT_CARD, serial: '0x00c0ffee', size_bytes: 31_914_983_424, capacity_check: 'ok' } });

    const item = page.getByTestId(`attention-item-${id}`);
    await item.getByTestId('attention-sentence').filter({ hasText: 'holds less than it claims' }).waitFor();
    expect(await item.getAttribute('data-reason')).toBe('counterfeit-card');
    expect(await item.getByTestId('attention-reason').textContent()).toBe('counterfeit card');
    expect(await item.getByTestId('attention-sentence').textContent()).toMatch(/a counterfeit card\. Replace it and re-image\.$/);
    // Said once: neither again under it nor as the card's "fake card?" flag beside the reason.
    expect(await item.getByTestId('attention-card-sentence').count()).toBe(0);
    expect(await item.getByTestId('card-flag-capacity').count()).toBe(0);
    await page.getByTestId(`attention-item-${failing.config!.deployment_id}`).waitFor();
    const reasons = (await page.locator('[data-testid^="attention-item-"]').evaluateAll((all) => all.map((card) => card.getAttribute('data-reason')))) as AttentionReason[];
    expect(reasons).toEqual([...reasons].sort((a, b) => LANE_ORDER.indexOf(a) - LANE_ORDER.indexOf(b)));
    expect(reasons.indexOf('counterfeit-card')).toBeGreaterThan(reasons.lastIndexOf('failed'));
    const needingAttention = async () => (await admin.get<{ items: Deployment[] }>('/api/deployments?attention=true')).items.map((d) => d.id);
    expect(await needingAttention()).toContain(id);
    // Counted before the page's clock runs ahead of the server's, which would make it see stalls the server does not.
    expect(await page.getByTestId('attention-count').textContent()).toBe(String((await needingAttention()).length));

    // Finished, yet it outlasts the minute finished cards stay on the board, as a card whose check passed does not.
    expect(await page.getByTestId(`attention-item-${sound.config!.deployment_id}`).count()).toBe(0);
    const soundCard = page.locator(`[data-testid="deployment-card-${sound.config!.deployment_id}"][data-status="completed"]`);
    await soundCard.waitFor();
    await page.clock.fastForward(61_000);
    await soundCard.waitFor({ state: 'detached' });
    await item.getByTestId('attention-details-toggle').click();
    expect(await item.getByTestId('attention-detail').textContent()).toMatch(/Capacity check\s*failed: the card wraps around \(counterfeit\)/);

    await item.getByTestId('attention-acknowledge').click();
    await item.waitFor({ state: 'detached' });
    expect(await admin.get<Deployment>(`/api/deployments/${id}`)).toMatchObject({ status: 'completed', card_capacity_check: 'wrapped', attention_resolution: 'acknowledged', attention_resolved_by: 'admin' });
    expect(await needingAttention()).not.toContain(id);
  });
});

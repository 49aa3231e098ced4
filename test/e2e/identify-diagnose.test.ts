// Identify and diagnose in the browser: a failed device on the lane carries its card's flags (far slower than the
// fleet, holding less than it claims) with their sentences; Identify reaches the board with its next report and the
// lane shows it blinking; the device's detail shows the card, its rates, and the installer's log to read and download.
import { readFile } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CardIdentity } from '../../src/contracts/card-health.js';
import type { Deployment } from '../../src/contracts/domain.js';
import { ApiSession } from './support/api.session.js';
import { launchBrowser, openPage, signIn, waitForLive } from './support/browser.harness.js';
import { openDashboard, type Dashboard } from './support/dashboard.session.js';
import { FakeDevice } from './support/fake-device.js';
import { ADMIN_PASSWORD, type E2eServer } from './support/server.harness.js';

const goodCard = (n: number): CardIdentity => ({ kind: 'sd', manufacturer: 'SanDisk', name: 'SN32G', serial: `0x0000000${n}`, size_bytes: 31_914_983_424, capacity_check: 'ok' });
const fakeCard: CardIdentity = { kind: 'sd', manufacturer: 'none (0x000000, typical of counterfeit cards)', name: 'NCard', serial: '0xdeadbeef', size_bytes: 1_024_209_543_168, capacity_check: 'wrapped' };
const LOG = ['2026-05-01T10:00:00.000Z info  [downloading] 50 %: 1.2 GiB of 2.4 GiB at 2.0 MiB/s', '2026-05-01T10:00:09.000Z error [failed] read-back verification failed: the disk holds sha256 ' + 'a'.repeat(64)].join('\n') + '\n';

describe('identify and diagnose on the dashboard', () => {
  let dashboard: Dashboard;
  let server: E2eServer;
  let page: Page;
  let admin: ApiSession;
  let failing: FakeDevice;

  beforeAll(async () => {
    dashboard = await openDashboard({
      prepare: async (session) => {
        await session.post('/api/venues', { code: 'ARIA', name: 'Aria Raceway' });
        await session.post('/api/kart-numbers', { venue_code: 'ARIA', numbers: '1-20' });
        await session.activateNewImage('KXP2', '2.0.0', 256 * 1024);
        await session.startBatch({ venue_code: 'ARIA', product_type: 'KXP2', total_count: 10, name: 'Bench' });
      },
    });
    ({ server, page } = dashboard);
    admin = await ApiSession.login(server.managementUrl, 'admin', ADMIN_PASSWORD);
    await waitForLive(page);
    // The fleet so far: five cards writing at about 20 MB/s.
    for (let n = 1; n <= 5; n++) {
      const device = FakeDevice.numbered(server.deviceUrl, n);
      await device.requestConfig();
      await device.report('completed', { card: goodCard(n), card_write_bps: 19_000_000 + n * 400_000, card_read_bps: 40_000_000 });
    }
    failing = FakeDevice.numbered(server.deviceUrl, 6);
    await failing.requestConfig();
    await failing.report('downloading', { progress: 20, card: fakeCard });
    await failing.report('failed', { error_message: 'read-back verification failed: the disk holds sha256 ' + 'a'.repeat(64), message: 'failed while verifying', card_write_bps: 2_000_000, card_read_bps: 9_000_000 });
    await failing.uploadLog(LOG);
  });

  afterAll(() => dashboard?.close());

  it('flags the failed card on the lane, with what its measurements say', async () => {
    const item = page.getByTestId(`attention-item-${failing.config!.deployment_id}`);
    await item.getByTestId('card-flag-capacity').waitFor();
    expect(await item.getByTestId('card-flag-slow').textContent()).toBe('slow card');
    const sentences = await item.getByTestId('attention-card-sentence').allTextContents();
    expect(sentences).toEqual([expect.stringMatching(/^The card wrote at 10 % of the fleet's usual rate/), expect.stringMatching(/holds less than it claims .*counterfeit/)]);
    expect(await item.getByTestId('attention-sentence').textContent()).toMatch(/^The card failed verification/);
  });

  it('sends Identify with the board\'s next report and shows it blinking', async () => {
    const item = page.getByTestId(`attention-item-${failing.config!.deployment_id}`);
    await item.getByTestId('identify-button').click();
    await page.getByTestId('toast').filter({ hasText: 'blinks its activity LED for 30 s' }).waitFor();
    await item.locator('[data-testid="identify-state"][data-state="pending"]').waitFor();
    // The failed board repeats its final report (its retry): the answer carries the Identify, once. Its log went up
    // with its token, so its reports carry the token from then on.
    const token = failing.config!.deployment_token;
    const answer = await failing.reportForAnswer('failed', { error_message: 'read-back verification failed: the disk holds sha256 ' + 'a'.repeat(64), deployment_token: token });
    expect(answer.identify).toEqual({ seconds: 30 });
    await item.locator('[data-testid="identify-state"][data-state="blinking"]').waitFor();
    expect((await failing.reportForAnswer('failed', { error_message: 'read-back verification failed', deployment_token: token })).identify).toBeUndefined();
    const audit = await admin.get<{ items: Array<{ action: string; target: string }> }>('/api/audit');
    expect(audit.items[0]).toMatchObject({ action: 'deployment.identify', target: failing.config!.hostname });
  });

  it('shows the card, its rates against the fleet and the installer\'s log in the detail, to read and to download', async () => {
    const item = page.getByTestId(`attention-item-${failing.config!.deployment_id}`);
    await item.getByTestId('attention-details-toggle').click();
    const detail = item.getByTestId('attention-detail');
    expect(await detail.getByTestId('card-identity').textContent()).toMatch(/NCard \(SD, 954 GiB\)/);
    expect(await detail.getByTestId('card-write-rate').textContent()).toMatch(/10 % of the fleet's median/);
    await detail.getByTestId('installer-log-toggle').click();
    await detail.getByTestId('installer-log-text').waitFor();
    expect(await detail.getByTestId('installer-log-text').textContent()).toBe(LOG);
    const [download] = await Promise.all([page.waitForEvent('download'), detail.getByTestId('installer-log-download').click()]);
    expect(download.suggestedFilename()).toBe(`pitcrew-${failing.config!.hostname}-deployment-${failing.config!.deployment_id}.log`);
    expect(await readFile(await download.path(), 'utf8')).toBe(LOG);
  });

  it('flags a completed fake card in the device history and says when a device sent no log', async () => {
    const sold = FakeDevice.numbered(server.deviceUrl, 7);
    await sold.requestConfig();
    await sold.report('completed', { card: { ...fakeCard, capacity_check: 'lost' }, card_write_bps: 18_000_000 });
    await page.goto(`${server.managementUrl}/deployments`);
    const row = page.getByTestId(`deployment-row-${sold.config!.deployment_id}`);
    await row.click();
    const modal = page.getByTestId('deployment-detail');
    await modal.getByTestId('card-flag-capacity').waitFor();
    expect(await modal.getByTestId('card-flag-slow').count()).toBe(0);
    expect(await modal.getByTestId('identify-button').count()).toBe(0);
    await modal.getByTestId('installer-log-toggle').click();
    expect(await modal.getByTestId('installer-log-missing').textContent()).toMatch(/has no installer log/);
    const record = await admin.get<Deployment>(`/api/deployments/${sold.config!.deployment_id}`);
    expect(record.card_size_bytes).toBe(fakeCard.size_bytes);
  });

  it('offers no Identify to a viewer', async () => {
    const browser = await launchBrowser();
    try {
      await admin.post('/api/users', { username: 'vera', password: 'viewer-password-1', role: 'viewer' });
      const { page: viewerPage } = await openPage(browser, server.managementUrl);
      await signIn(viewerPage, 'vera', 'viewer-password-1');
      const item = viewerPage.getByTestId(`attention-item-${failing.config!.deployment_id}`);
      await item.getByTestId('card-flag-capacity').waitFor();
      expect(await item.getByTestId('identify-button').count()).toBe(0);
    } finally {
      await browser.close();
    }
  });
});

// Notifications on the System page: an administrator adds a webhook through the form (bad input explained, the
// secret never shown again), sends a test to a real receiver that fails the first attempt, and watches the
// delivery log show the failure (status code, error, next attempt) and then the delivery. A failed device is
// announced by itself. Operators do not see the panel.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEBHOOK_HEADERS } from '../../src/contracts/webhooks.js';
import { isValidWebhookSignature } from '../../src/core/webhook-signature.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../src/server/webhooks/test-support/webhook-receiver.js';
import { launchBrowser, openPage, signIn } from './support/browser.harness.js';
import { openDashboard, type Dashboard } from './support/dashboard.session.js';
import { FakeDevice } from './support/fake-device.js';

const SECRET = 'floor-phone-shared-secret';

describe('webhooks on the System page', () => {
  let dashboard: Dashboard;
  let page: Page;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    receiver = await startWebhookReceiver((_request, count) => (count === 1 ? 500 : 200));
    dashboard = await openDashboard({
      // A retry 5 s after a failure: long enough for the log (refreshed every 2 s while pending) to show the failure.
      server: { webhookDelivery: { firstRetryDelayMs: 5000 } },
      prepare: async (admin) => {
        await admin.post('/api/venues', { code: 'CORO', name: 'Coronado' });
        await admin.post('/api/kart-numbers', { venue_code: 'CORO', numbers: '1-5' });
        await admin.activateNewImage('KXP2', '1.0.0', 64 * 1024);
        await admin.post('/api/users', { username: 'olive', password: 'operator-password', role: 'operator' });
      },
    });
    page = dashboard.page;
    await page.goto('/system');
  });
  afterAll(async () => {
    await dashboard?.close();
    await receiver?.close();
  });

  const logRow = (status: string) => page.locator(`[data-testid^="webhook-delivery-"][data-status="${status}"]`);

  it('explains what is wrong with a webhook before sending it', async () => {
    await page.getByTestId('webhook-log-empty').waitFor();
    await page.getByTestId('webhook-name').fill('Floor phone');
    await page.getByTestId('webhook-url').fill('ftp://example.com');
    await page.getByTestId('webhook-secret').fill('short');
    await page.getByTestId('webhook-save').click();
    await page.getByText('An http:// or https:// address.').waitFor();
    await page.getByText('At least 16 characters, or leave it empty.').waitFor();
    expect(await page.getByTestId('webhook-list').count()).toBe(0);
  });

  it('adds a signed ntfy webhook; the secret is not shown again', async () => {
    await page.getByTestId('webhook-url').fill(`${receiver.url}/pitcrew-floor`);
    await page.getByTestId('webhook-format').selectOption('ntfy');
    await page.getByTestId('webhook-event-batch_finished').uncheck();
    await page.getByTestId('webhook-secret').fill(SECRET);
    await page.getByTestId('webhook-save').click();
    const row = page.getByTestId('webhook-list').locator('tbody tr');
    await row.waitFor();
    expect(await row.textContent()).toContain('Floor phone');
    expect(await row.textContent()).toContain('Device failed, Device not booted');
    expect(await row.textContent()).toContain('Signed');
    expect(await page.content()).not.toContain(SECRET);
    expect(await page.getByTestId('webhook-secret').inputValue()).toBe('');
  });

  it('sends a test: the log shows the failed first attempt, then the delivery', async () => {
    await page.locator('[data-testid^="webhook-test-"]').click();
    const failedOnce = page.locator('[data-testid^="webhook-delivery-"][data-status="pending"][data-attempts="1"]');
    await failedOnce.waitFor();
    expect(await failedOnce.textContent()).toContain('500');
    expect(await failedOnce.textContent()).toContain('the receiver answered HTTP 500');
    expect(await failedOnce.textContent()).toContain('Next attempt');
    const delivered = page.locator('[data-testid^="webhook-delivery-"][data-status="delivered"][data-attempts="2"]');
    await delivered.waitFor({ timeout: 15_000 });
    expect(await delivered.textContent()).toContain('200');
    expect(receiver.received).toHaveLength(2);
    const last = receiver.received[1]!;
    expect(last.headers.title).toBe('Pitcrew test notification');
    expect(isValidWebhookSignature(SECRET, { timestamp: last.headers[WEBHOOK_HEADERS.timestamp] as string, signature: last.headers[WEBHOOK_HEADERS.signature] as string }, last.body)).toBe(true);
  });

  it('announces a failed device by itself, and the log shows it', async () => {
    const device = FakeDevice.numbered(dashboard.server.deviceUrl, 1);
    const config = await device.requestConfig({ venue_code: 'CORO', product_type: 'KXP2' });
    await device.report('failed', { error_message: 'read-back verification failed' });
    await page.getByTestId('webhook-log-refresh').click();
    await expect.poll(async () => (await logRow('delivered').allTextContents()).join('\n'), { timeout: 10_000 }).toContain(`Device failed: ${config.hostname}`);
    expect(receiver.received.at(-1)!.body).toContain('failed verification');
  });

  it('turns a webhook off and deletes it', async () => {
    const toggle = page.locator('[data-testid^="webhook-enabled-"]');
    // A click, then the state the server answers with: the switch follows the saved webhook, not the click alone.
    await toggle.click();
    await expect.poll(() => toggle.isChecked()).toBe(false);
    await page.locator('[data-testid^="webhook-delete-"]').click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await page.getByTestId('webhook-list').waitFor({ state: 'detached' });
    await page.getByTestId('webhook-log-empty').waitFor();
  });

  it('is not shown to an operator', async () => {
    const browser = await launchBrowser();
    try {
      const { page: operatorPage } = await openPage(browser, dashboard.server.managementUrl);
      await signIn(operatorPage, 'olive', 'operator-password');
      await operatorPage.goto('/system');
      await operatorPage.getByTestId('system-api-docs').waitFor();
      expect(await operatorPage.getByTestId('webhooks-panel').count()).toBe(0);
    } finally {
      await browser.close();
    }
  });
});

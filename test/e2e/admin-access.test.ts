// Administration in the browser: an admin adds an operator, hands a script a token (shown once), revokes it,
// and finds both changes in the audit log; the new operator signs in without the admin pages.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPage, signIn } from './support/browser.harness.js';
import { openDashboard, type Dashboard } from './support/dashboard.session.js';
import type { E2eServer } from './support/server.harness.js';

describe('users, tokens and audit in the browser', () => {
  let dashboard: Dashboard;
  let server: E2eServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    dashboard = await openDashboard();
    ({ server, browser, page } = dashboard);
  });

  afterAll(() => dashboard?.close());

  it('creates an operator, checking the form as it is filled in', async () => {
    await page.getByTestId('nav-users').click();
    await page.getByTestId('user-row-admin').waitFor();
    await page.getByTestId('user-create').click();
    await page.getByTestId('user-username').fill('maria ops');
    await page.getByTestId('user-password').fill('short');
    await page.getByTestId('user-confirm').fill('shorter');
    await page.getByTestId('user-save').click();
    expect(await page.getByTestId('user-form').locator('.invalid-feedback').count()).toBe(3);

    await page.getByTestId('user-username').fill('maria.ops');
    await page.getByTestId('user-password').fill('operator-pass-1');
    await page.getByTestId('user-confirm').fill('operator-pass-1');
    await page.getByTestId('user-role').selectOption('operator');
    expect(await page.getByTestId('user-form').locator('.invalid-feedback').count()).toBe(0);
    await page.getByTestId('user-save').click();
    await page.getByTestId('toast').filter({ hasText: 'User maria.ops created' }).waitFor();
    expect(await page.getByTestId('user-role-maria.ops').inputValue()).toBe('operator');
  });

  it('creates an API token, shows its secret once, and revokes it', async () => {
    await page.getByTestId('tab-tokens').click();
    await page.getByTestId('token-name').fill('Provisioning script');
    await page.getByTestId('token-create').click();
    const secret = (await page.getByTestId('token-secret').textContent())!;
    expect(secret.length).toBeGreaterThan(20);

    // The secret works for scripts...
    const withToken = await fetch(new URL('/api/stats', server.managementUrl), { headers: { authorization: `Bearer ${secret}` } });
    expect(withToken.status).toBe(200);

    const row = page.locator('[data-testid^="token-row-"]').filter({ hasText: 'Provisioning script' });
    await row.waitFor();
    expect(await row.textContent()).not.toContain(secret);
    await row.locator('[data-testid^="token-revoke-"]').click();
    await page.getByTestId('confirm-ok').click();
    await page.getByTestId('toast').filter({ hasText: 'revoked' }).waitFor();
    await row.waitFor({ state: 'detached' });
    // ...and stops working once revoked.
    const revoked = await fetch(new URL('/api/stats', server.managementUrl), { headers: { authorization: `Bearer ${secret}` } });
    expect(revoked.status).toBe(401);
  });

  it('lists the changes in the audit log', async () => {
    await page.getByTestId('tab-audit').click();
    const table = page.getByTestId('audit-table');
    await table.filter({ hasText: 'user.create' }).waitFor();
    await table.filter({ hasText: 'token.create' }).waitFor();
    expect(await table.textContent()).not.toContain('operator-pass-1');
  });

  it('lets the new operator in without the admin pages, and signs out', async () => {
    const { context, page: operatorPage } = await openPage(browser, server.managementUrl);
    await signIn(operatorPage, 'maria.ops', 'operator-pass-1');
    expect(await operatorPage.getByTestId('current-role').textContent()).toBe('operator');
    expect(await operatorPage.getByTestId('nav-users').count()).toBe(0);
    await operatorPage.getByTestId('nav-venues').click();
    await operatorPage.getByTestId('venue-create').waitFor();
    await operatorPage.getByTestId('account-menu').click();
    await operatorPage.getByTestId('sign-out').click();
    await operatorPage.getByTestId('login-form').waitFor();
    // The session is gone on the server too, not just forgotten by the page.
    await operatorPage.reload();
    await operatorPage.getByTestId('login-form').waitFor();
    await context.close();
  });

  it('sends a deleted user back to the sign-in page with the reason', async () => {
    const { context, page: operatorPage } = await openPage(browser, server.managementUrl);
    await signIn(operatorPage, 'maria.ops', 'operator-pass-1');

    await page.getByTestId('tab-users').click();
    await page.getByTestId('user-delete-maria.ops').click();
    await page.getByTestId('confirm-ok').click();
    await page.getByTestId('toast').filter({ hasText: 'User maria.ops deleted' }).waitFor();

    // The server cuts the deleted user's live connection, which may already have sent the page to sign-in;
    // if not, the next page it opens does. Either way the click may find the menu gone.
    const signedOut = operatorPage.getByTestId('login-form').waitFor();
    await operatorPage.getByTestId('nav-kart-numbers').click({ timeout: 5_000 }).catch(() => undefined);
    await signedOut;
    await operatorPage.getByText('Your session has ended').waitFor();
    await context.close();
  });
});

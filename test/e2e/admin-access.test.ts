// Administration in the browser: an admin adds an operator, hands a script a token (shown once), revokes it,
// and finds changes in the audit log; an operator signs in without the admin pages. Each test arranges the users and
// changes it needs through the API and opens its own page, so any of them runs alone or in any order.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiSession } from './support/api.session.js';
import { openPage, signIn } from './support/browser.harness.js';
import { openDashboard, type Dashboard } from './support/dashboard.session.js';
import { ADMIN_PASSWORD, type E2eServer } from './support/server.harness.js';

describe('users, tokens and audit in the browser', () => {
  let dashboard: Dashboard;
  let server: E2eServer;
  let browser: Browser;
  let page: Page;
  let admin: ApiSession;

  beforeAll(async () => {
    dashboard = await openDashboard();
    ({ server, browser, page } = dashboard);
    admin = await ApiSession.login(server.managementUrl, 'admin', ADMIN_PASSWORD);
  });

  /** The admin's page on one tab of Users & access. */
  const openTab = async (tab: 'users' | 'tokens' | 'audit') => {
    await page.goto('/users');
    await page.getByTestId('user-row-admin').waitFor();
    await page.getByTestId(`tab-${tab}`).click();
  };
  const createOperator = (username: string, password: string) => admin.post('/api/users', { username, password, role: 'operator' });

  afterAll(() => dashboard?.close());

  it('creates an operator, checking the form as it is filled in', async () => {
    await openTab('users');
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
    await openTab('tokens');
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
    await createOperator('audited.ops', 'audited-pass-1');
    await admin.post('/api/tokens', { name: 'Audited script' });
    await openTab('audit');
    const table = page.getByTestId('audit-table');
    await table.filter({ hasText: 'user.create' }).filter({ hasText: 'audited.ops' }).waitFor();
    await table.filter({ hasText: 'token.create' }).waitFor();
    expect(await table.textContent()).not.toContain('audited-pass-1');
  });

  it('lets an operator in without the admin pages, and signs out', async () => {
    await createOperator('lena.ops', 'operator-pass-2');
    const { context, page: operatorPage } = await openPage(browser, server.managementUrl);
    await signIn(operatorPage, 'lena.ops', 'operator-pass-2');
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
    await createOperator('tom.ops', 'operator-pass-3');
    const { context, page: operatorPage } = await openPage(browser, server.managementUrl);
    await signIn(operatorPage, 'tom.ops', 'operator-pass-3');

    await openTab('users');
    await page.getByTestId('user-delete-tom.ops').click();
    await page.getByTestId('confirm-ok').click();
    await page.getByTestId('toast').filter({ hasText: 'User tom.ops deleted' }).waitFor();

    // The server cuts the deleted user's live connection, which may already have sent the page to sign-in;
    // if not, the next page it opens does. Either way the click may find the menu gone.
    const signedOut = operatorPage.getByTestId('login-form').waitFor();
    await operatorPage.getByTestId('nav-kart-numbers').click({ timeout: 5_000 }).catch(() => undefined);
    await signedOut;
    await operatorPage.getByText('Your session has ended').waitFor();
    await context.close();
  });
});

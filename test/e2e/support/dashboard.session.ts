// One real server and one browser page signed in to its dashboard: what every browser test starts from.
import type { Browser, Page } from 'playwright-core';
import { ApiSession } from './api.session.js';
import { launchBrowser, openPage, signIn } from './browser.harness.js';
import { ADMIN_PASSWORD, startE2eServer, type E2eOptions, type E2eServer } from './server.harness.js';

export interface Dashboard {
  server: E2eServer;
  browser: Browser;
  page: Page;
  close(): Promise<void>;
}

export interface DashboardOptions {
  server?: E2eOptions;
  /** Arranges data through the API, as admin, before the browser opens. */
  prepare?: (admin: ApiSession, server: E2eServer) => Promise<void>;
  /** Who signs in; null leaves the page on the login form. Admin by default. */
  signInAs?: { username: string; password: string } | null;
}

export async function openDashboard({ server: serverOptions, prepare, signInAs = { username: 'admin', password: ADMIN_PASSWORD } }: DashboardOptions = {}): Promise<Dashboard> {
  const server = await startE2eServer(serverOptions);
  let browser: Browser | null = null;
  const close = async () => {
    await browser?.close();
    await server.stop();
  };
  try {
    if (prepare) await prepare(await ApiSession.login(server.managementUrl, 'admin', ADMIN_PASSWORD), server);
    browser = await launchBrowser();
    const { page } = await openPage(browser, server.managementUrl);
    if (signInAs) await signIn(page, signInAs.username, signInAs.password);
    return { server, browser, page, close };
  } catch (error) {
    await close();
    throw error;
  }
}

// An operator's first day, in a real browser against the real server: sign in, create a venue, import its kart
// numbers, upload and activate an image, create and start a batch, watch devices image live on the dashboard,
// then find them in the history and export it as CSV. Each step arranges what it starts from through the API (its
// own venue, image, batch and devices) on a page already signed in, so any of them runs alone or in any order.
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiSession } from './support/api.session.js';
import { openPage, signIn, waitForLive } from './support/browser.harness.js';
import { openDashboard, type Dashboard } from './support/dashboard.session.js';
import { FakeDevice } from './support/fake-device.js';
import { ADMIN_PASSWORD, type E2eServer } from './support/server.harness.js';
import { tinyDiskImage } from '../../src/disk-layout/test-support/tiny-disk-image.js';

describe('operator workflow in the browser', () => {
  let dashboard: Dashboard;
  let server: E2eServer;
  let page: Page;
  let admin: ApiSession;
  const image = tinyDiskImage(randomBytes(3 * 1024 * 1024 + 123));
  const imageSha = createHash('sha256').update(image).digest('hex');

  const toast = (text: string | RegExp) => page.getByTestId('toast').filter({ hasText: text }).first().waitFor();
  const card = (device: FakeDevice, attributes = '') => page.locator(`[data-testid="deployment-card-${device.config!.deployment_id}"]${attributes}`);

  /** A venue with KXP2 kart numbers `from`–`to`. */
  const arrangeVenue = async (code: string, name: string, kartNumbers?: string) => {
    await admin.post('/api/venues', { code, name });
    if (kartNumbers) await admin.post('/api/kart-numbers', { venue_code: code, numbers: kartNumbers });
  };
  /**
   * A started KXP2 batch of `count` at `venue`, ahead of any other batch, with an active image to serve, and its
   * devices (numbered from `firstDevice`, so no two tests share a board), not yet asking.
   */
  const arrangeServingBatch = async (venue: string, name: string, count: number, firstDevice: number): Promise<FakeDevice[]> => {
    await admin.activateNewImage('KXP2', `9.${firstDevice}.0`, 64 * 1024);
    const { batch } = await admin.post<{ batch: { id: number } }>('/api/batches', { venue_code: venue, product_type: 'KXP2', total_count: count, name, priority: 1000 });
    await admin.post(`/api/batches/${batch.id}/start`);
    return Array.from({ length: count }, (_, i) => FakeDevice.numbered(server.deviceUrl, firstDevice + i));
  };

  beforeAll(async () => {
    dashboard = await openDashboard({ server: { maxImageBytes: 10 * 1024 * 1024 } });
    ({ server, page } = dashboard);
    admin = await ApiSession.login(server.managementUrl, 'admin', ADMIN_PASSWORD);
  });

  afterAll(() => dashboard?.close());

  it('refuses a wrong password with the server message, then signs in', async () => {
    // A browser context of its own, signed out, whatever the other tests did.
    const { context, page: fresh } = await openPage(dashboard.browser, server.managementUrl);
    try {
      await fresh.goto('/');
      await fresh.getByTestId('login-username').fill('admin');
      await fresh.getByTestId('login-password').fill('not-the-password');
      await fresh.getByTestId('login-submit').click();
      await fresh.getByTestId('login-error').waitFor();
      expect((await fresh.getByTestId('login-error').textContent())?.length).toBeGreaterThan(5);

      await signIn(fresh, 'admin', ADMIN_PASSWORD);
      expect(await fresh.getByTestId('current-user').textContent()).toBe('admin');
      expect(await fresh.getByTestId('current-role').textContent()).toBe('admin');
      await fresh.getByTestId('nav-dashboard').waitFor();
    } finally {
      await context.close();
    }
  });

  it('creates a venue, validating the form while typing', async () => {
    await page.goto('/venues');
    await page.getByTestId('venue-create').click();
    await page.getByTestId('venue-code').fill('co');
    await page.getByTestId('venue-name').fill('Coronado Karting');
    await page.getByTestId('venue-code-error').waitFor();
    await page.getByTestId('venue-email').fill('pits@');
    await page.getByTestId('venue-email-error').waitFor();
    await page.getByTestId('venue-code').fill('coro');
    expect(await page.getByTestId('venue-code').inputValue()).toBe('CORO');
    await page.getByTestId('venue-email').fill('pits@coronado-karting.example');
    expect(await page.getByTestId('venue-code-error').count()).toBe(0);
    expect(await page.getByTestId('venue-email-error').count()).toBe(0);
    await page.getByTestId('venue-save').click();

    await toast('Venue CORO created');
    await page.getByTestId('venue-detail-code').filter({ hasText: 'CORO' }).waitFor();
    expect(page.url()).toMatch(/\/venues\/CORO$/);

    // The same code again is refused by the server, and its reason is shown in the form.
    await page.getByTestId('nav-venues').click();
    await page.getByTestId('venue-row-CORO').waitFor();
    await page.getByTestId('venue-create').click();
    await page.getByTestId('venue-code').fill('CORO');
    await page.getByTestId('venue-name').fill('Duplicate');
    await page.getByTestId('venue-save').click();
    await page.getByTestId('venue-form-error').waitFor();
    await page.keyboard.press('Escape');
    await page.getByTestId('venue-form').waitFor({ state: 'detached' });
  });

  it('edits a venue and deletes one that was never used', async () => {
    await arrangeVenue('EDIT', 'Edgewater Karts');
    await page.goto('/venues/EDIT');
    await page.getByTestId('venue-detail-edit').click();
    expect(await page.getByTestId('venue-code').isDisabled()).toBe(true);
    await page.getByTestId('venue-location').fill('San Diego, CA');
    await page.getByTestId('venue-save').click();
    await toast('Venue EDIT updated');
    await page.getByTestId('venue-info').filter({ hasText: 'San Diego, CA' }).waitFor();

    await page.getByTestId('nav-venues').click();
    await page.getByTestId('venue-create').click();
    await page.getByTestId('venue-code').fill('TMP1');
    await page.getByTestId('venue-name').fill('Typo venue');
    await page.getByTestId('venue-save').click();
    await page.getByTestId('venue-detail-delete').click();
    await page.getByTestId('confirm-ok').click();
    await toast('Venue TMP1 deleted');
    await page.waitForURL(/\/venues$/);
    await page.getByTestId('venue-row-EDIT').waitFor();
    expect(await page.getByTestId('venue-row-TMP1').count()).toBe(0);
  });

  it('bulk-imports kart numbers with range syntax, refusing invalid tokens before sending', async () => {
    await arrangeVenue('KART', 'Kartodrom');
    await page.goto('/venues/KART');
    await page.getByTestId('venue-import').click();
    await page.getByTestId('kart-import').waitFor();

    await page.getByTestId('kart-import-product-RXP2').check();
    await page.getByTestId('rxp2-explanation').waitFor();
    await page.getByTestId('kart-import-product-KXP2').check();

    await page.getByTestId('kart-import-numbers').fill('1-20, x7, 40-30');
    await page.getByTestId('kart-import-preview').filter({ hasText: 'x7' }).waitFor();
    expect(await page.getByTestId('kart-import-preview').textContent()).toContain('40-30');
    expect(await page.getByTestId('kart-import-submit').isDisabled()).toBe(true);

    await page.getByTestId('kart-import-numbers').fill('1-20, 25\n30-32');
    await page.getByTestId('kart-import-preview').filter({ hasText: '24 numbers' }).waitFor();
    await page.getByTestId('kart-import-submit').click();
    await toast('Added 24 kart numbers to KART');
    await page.getByTestId('pool-row-KXP2-KART-001').waitFor();
    await page.getByTestId('pool-pagination-summary').filter({ hasText: 'of 24' }).waitFor();

    // Duplicates are skipped and counted.
    await page.getByTestId('kart-import-open').click();
    await page.getByTestId('kart-import-numbers').fill('20-22');
    await page.getByTestId('kart-import-submit').click();
    await toast('Added 2 kart numbers to KART; 1 already existed');
    await page.getByTestId('pool-pagination-summary').filter({ hasText: 'of 26' }).waitFor();

    // Filters are applied on the server.
    await page.getByTestId('pool-filter-search').fill('KART-02');
    await page.getByTestId('pool-pagination-summary').filter({ hasText: 'of 4' }).waitFor();
    expect(await page.locator('[data-testid^="pool-row-"]').count()).toBe(4);
  });

  it('uploads an image with a progress bar, shows its SHA-256 and activates it', async () => {
    await page.goto('/images');
    await page.getByTestId('active-image-KXP2').waitFor();
    const uploads: string[] = [];
    page.on('request', (request) => void (request.url().endsWith('/api/images/upload') && uploads.push(request.method())));
    // A file over the server's limit is refused here, before a byte is sent.
    await page.getByTestId('image-file').setInputFiles({ name: 'kxp2_v9.img', mimeType: 'application/octet-stream', buffer: Buffer.alloc(11 * 1024 * 1024) });
    await page.getByTestId('image-file-error').filter({ hasText: "This file is 11.0 MiB, over the server's 10.0 MiB upload limit" }).waitFor();
    await page.getByTestId('image-upload-submit').click();
    await page.getByTestId('image-file').setInputFiles({ name: 'kxp2_v2.4.1.img', mimeType: 'application/octet-stream', buffer: image });
    // The version is suggested from the file name.
    expect(await page.getByTestId('image-version').inputValue()).toBe('2.4.1');
    await page.getByTestId('image-description').fill('Spring release');
    await page.getByTestId('image-upload-submit').click();

    await page.getByTestId('image-upload-result').waitFor();
    expect(uploads).toEqual(['POST']); // the valid file only
    expect(await page.getByTestId('image-upload-checksum').textContent()).toBe(imageSha);
    await toast('KXP2 2.4.1 uploaded');
    const row = page.locator('[data-testid^="image-row-"][data-version="2.4.1"]');
    await row.waitFor();
    expect(await row.locator('[data-testid^="image-sha-"]').textContent()).toBe(imageSha);

    // The same product and version again is caught while typing.
    await page.getByTestId('image-version').fill('2.4.1');
    await page.getByTestId('image-version-error').filter({ hasText: 'already exists' }).waitFor();
    await page.getByTestId('image-version').fill('');

    await row.locator('[data-testid^="image-activate-"]').click();
    // The confirmation says what the image holds: its partitions, from the block map.
    await page.getByTestId('image-activate-contents').filter({ hasText: 'p1 type 0x83' }).waitFor();
    await page.getByTestId('confirm-ok').click();
    await toast('KXP2 2.4.1 is now the active image');
    await page.locator('[data-testid^="image-row-"][data-version="2.4.1"][data-active="true"]').waitFor();
    await page.getByTestId('active-image-KXP2').filter({ hasText: '2.4.1' }).waitFor();
  });

  it('shows real upload progress on a slow link and cancels an upload without keeping anything', async () => {
    // Throttle this page's uploads so progress can be watched part-way.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 512 * 1024 });
    try {
      await page.goto('/images');
      await page.getByTestId('image-file').setInputFiles({ name: 'kxp2_v2.5.0.img', mimeType: 'application/octet-stream', buffer: randomBytes(8 * 1024 * 1024) });
      await page.getByTestId('image-upload-submit').click();
      const bar = page.getByTestId('image-upload-bar');
      await bar.waitFor();
      await expect.poll(async () => Number(await bar.getAttribute('data-value')), { timeout: 15_000 }).toBeGreaterThan(0);
      const partway = Number(await bar.getAttribute('data-value'));
      expect(partway).toBeLessThan(100);
      expect(await page.getByTestId('image-upload-progress').textContent()).toMatch(/of 8\.0 MiB/);
      await page.getByTestId('image-upload-cancel').click();
      await toast('Upload cancelled');
      await page.getByTestId('image-upload-progress').waitFor({ state: 'detached' });
    } finally {
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      await cdp.detach();
    }
    const { images } = (await (await page.request.get('/api/images')).json()) as { images: Array<{ version: string }> };
    expect(images.map((i) => i.version)).not.toContain('2.5.0');
  });

  it('creates a batch with a live pool check and starts it', async () => {
    await arrangeVenue('BTCH', 'Batchelor Raceway', '1-26');
    await page.goto('/batches');
    await page.getByTestId('batch-create-open').click();
    await page.getByTestId('batch-venue').selectOption('BTCH');
    await page.getByTestId('batch-capacity-free').filter({ hasText: '26' }).waitFor();

    await page.getByTestId('batch-count').fill('30');
    await page.getByTestId('batch-count-error').filter({ hasText: 'Only 26 kart numbers are free at BTCH' }).waitFor();
    await page.getByTestId('batch-count').fill('3');
    expect(await page.getByTestId('batch-count-error').count()).toBe(0);
    await page.getByTestId('batch-name').fill('Race day fleet');
    await page.getByTestId('batch-start-now').check();
    await page.getByTestId('batch-submit').click();

    await toast('created and started');
    const item = page.locator('[data-testid^="batch-item-"][data-status="active"]').filter({ hasText: 'Race day fleet' });
    await item.waitFor();
    expect(await item.locator('[data-testid^="batch-name-"]').textContent()).toBe('Race day fleet');
    // Only legal moves are offered: an active batch can be paused or cancelled, not started.
    expect(await item.locator('[data-testid^="batch-start-"]').count()).toBe(0);
    expect(await item.locator('[data-testid^="batch-pause-"]').count()).toBe(1);
  });

  it('shows devices on the dashboard as they report, live, until they complete', async () => {
    await arrangeVenue('DASH', 'Dashwood Circuit', '1-3');
    const devices = await arrangeServingBatch('DASH', 'Dashboard fleet', 3, 1);
    const before = await admin.get<{ completed_today: number; failed_today: number }>('/api/stats');
    await page.goto('/');
    await waitForLive(page);
    await page.getByTestId('active-batch').filter({ hasText: 'Dashboard fleet' }).waitFor();

    for (const device of devices) await device.requestConfig();
    expect(devices.map((d) => d.config!.hostname)).toEqual(['KXP2-DASH-001', 'KXP2-DASH-002', 'KXP2-DASH-003']);
    for (const device of devices) await card(device, '[data-status="assigned"]').waitFor();
    await page.getByTestId('live-count').filter({ hasText: '3' }).waitFor();
    // All three names handed out: the batch serves nobody new, and images on until its devices finish.
    await page.getByTestId('active-batch').filter({ hasText: 'Dashboard fleet' }).waitFor({ state: 'detached' });

    const [first, second, third] = devices as [FakeDevice, FakeDevice, FakeDevice];
    await first.reportDownload(25);
    await card(first, '[data-status="downloading"][data-progress="25"]').waitFor();
    expect(await card(first).getByTestId('deployment-card-rate').textContent()).toContain('MiB/s');
    await first.reportDownload(80);
    await card(first, '[data-progress="80"]').waitFor();
    await first.report('verifying', { progress: 90 });
    await card(first, '[data-status="verifying"]').waitFor();
    await first.report('customizing', { progress: 97 });
    await card(first, '[data-status="customizing"]').waitFor();
    await first.report('completed', { progress: 100 });
    await card(first, '[data-status="completed"][data-progress="100"]').waitFor();

    await second.reportDownload(50);
    await card(second, '[data-progress="50"]').waitFor();
    await second.report('failed', { error_message: 'SHA-256 mismatch after writing /dev/mmcblk0' });
    await card(second, '[data-status="failed"]').getByTestId('deployment-card-error').filter({ hasText: 'SHA-256 mismatch' }).waitFor();

    await third.report('success');
    await card(third, '[data-status="completed"]').waitFor();

    await page.getByTestId('stat-completed-value').filter({ hasText: new RegExp(`^${before.completed_today + 2}$`) }).waitFor();
    await page.getByTestId('stat-failed-value').filter({ hasText: new RegExp(`^${before.failed_today + 1}$`) }).waitFor();
    await page.getByTestId('live-count').filter({ hasText: /^0$/ }).waitFor();
    await page.getByTestId('recent-history').locator(`[data-testid="recent-row-${first.config!.deployment_id}"]`).waitFor();
  });

  it('filters the deployment history and downloads the filtered CSV', async () => {
    await arrangeVenue('HIST', 'Hillside Track', '1-3');
    const [first, second, third] = (await arrangeServingBatch('HIST', 'History fleet', 3, 11)) as [FakeDevice, FakeDevice, FakeDevice];
    for (const device of [first, second, third]) await device.requestConfig();
    await first.report('completed', { progress: 100 });
    await second.report('failed', { error_message: 'SHA-256 mismatch after writing /dev/mmcblk0' });
    await third.report('completed', { progress: 100 });

    await page.goto('/deployments?venue=HIST');
    await page.getByTestId('dep-pagination-summary').filter({ hasText: 'of 3' }).waitFor();

    await page.getByTestId('dep-filter-status').selectOption('failed');
    await page.getByTestId('dep-pagination-summary').filter({ hasText: 'of 1' }).waitFor();
    expect(await page.locator('[data-testid^="deployment-row-"]').getAttribute('data-hostname')).toBe('KXP2-HIST-002');
    expect(page.url()).toContain('status=failed');

    // Filters live in the address, so a reload shows the same view.
    await page.reload();
    await page.getByTestId('dep-pagination-summary').filter({ hasText: 'of 1' }).waitFor();

    await page.getByTestId('dep-filter-status').selectOption('');
    await page.getByTestId('dep-filter-search').fill('HIST-003');
    // The summary already read "of 1" before this filter: wait for the rows themselves.
    const hostnames = () => page.locator('[data-testid^="deployment-row-"]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-hostname')));
    await expect.poll(hostnames, { timeout: 10_000 }).toEqual(['KXP2-HIST-003']);

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('deployments-csv').click()]);
    const csv = await readFile((await download.path()), 'utf8');
    const lines = csv.trim().split(/\r?\n/);
    expect(lines[0]).toMatch(/hostname/i);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('KXP2-HIST-003');

    // The detail view shows what the device reported.
    await page.getByTestId('dep-filter-search').fill('HIST-002');
    await page.locator('[data-testid^="deployment-row-"][data-hostname="KXP2-HIST-002"]').click();
    await page.getByTestId('deployment-detail-error').filter({ hasText: 'SHA-256 mismatch' }).waitFor();
  });
});

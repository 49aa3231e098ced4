// Screenshots of every page with a realistic fleet, for looking at the UI (not a test: nothing is asserted).
//   npx tsx test/e2e/screenshots.ts [outDir]      (default /tmp/pitcrew-screens; needs `npm run build` first)
// Two weeks of history are made by moving the server's clock back while fake devices report, then the clock
// returns to now and a live batch is left mid-flight for the dashboard.
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { MasterImage } from '../../src/contracts/domain.js';
import { ChunkSet } from '../../src/contracts/peer-delivery.js';
import { ApiSession } from './support/api.session.js';
import { launchBrowser, openPage, signIn, waitForLive } from './support/browser.harness.js';
import { FakeDevice } from './support/fake-device.js';
import { ADMIN_PASSWORD, startE2eServer } from './support/server.harness.js';
import { tinyDiskImage } from '../../src/disk-layout/test-support/tiny-disk-image.js';

const outDir = process.argv[2] ?? '/tmp/pitcrew-screens';
const DAY = 86_400_000;
let offsetMs = 0;
const server = await startE2eServer({ now: () => new Date(Date.now() + offsetMs) });
const admin = await ApiSession.login(server.managementUrl, 'admin', ADMIN_PASSWORD);

type Id = { id: number };
const venues = [
  { code: 'CORO', name: 'Coronado Karting', location: 'San Diego, CA', contact_email: 'pits@coronado-karting.example' },
  { code: 'ARIA', name: 'Aria Raceway', location: 'Las Vegas, NV', contact_email: 'ops@ariaraceway.example' },
  { code: 'BLSX', name: 'Blue Six Indoor Karting', location: 'Leeds, UK', contact_email: null },
  { code: 'MTKP', name: 'Mount Kart Park', location: 'Melbourne, AU', contact_email: 'crew@mtkp.example' },
  { code: 'NRDQ', name: 'Nordique Circuit', location: 'Québec, CA', contact_email: null },
];
for (const venue of venues) await admin.post('/api/venues', venue);
await admin.post('/api/kart-numbers', { venue_code: 'CORO', numbers: '1-120' });
await admin.post('/api/kart-numbers', { venue_code: 'MTKP', numbers: '1-90, 101-110' });
await admin.post('/api/kart-numbers', { venue_code: 'BLSX', numbers: '1-24, 30-35' });
await admin.post('/api/kart-numbers', { venue_code: 'NRDQ', numbers: '1-16' });

const image = async (product: string, version: string, kib: number, description: string, activate = false) => {
  const { image: uploaded } = await admin.uploadImage(product, version, tinyDiskImage(randomBytes(kib * 1024 - 512)), `${product.toLowerCase()}-raspios-bookworm-${version}.img`, description);
  if (activate) await admin.post(`/api/images/${uploaded.id}/activate`);
  return uploaded;
};
await image('KXP2', '2.3.0', 2048, 'Bookworm base, dual camera 1080p60');
await image('KXP2', '2.4.0', 2304, 'Adds lap-timer sync over Wi-Fi', true);
await image('RXP2', '1.9.1', 1536, 'RaceXPro first field release');
await image('RXP2', '1.9.2', 1600, 'Fixes GPS cold start', true);

// History: devices asking by venue and product (no batch active), spread over the last 14 days.
const FAILURES = ['Download stalled: no data for 120 s', 'SHA-256 mismatch after writing /dev/mmcblk0', 'Target disk too small: 7.8 GB < 8.0 GB image', 'No report for 10 minutes'];
let serial = 1;
const plan: Array<{ venue: string; product: 'KXP2' | 'RXP2'; perDay: number }> = [
  { venue: 'CORO', product: 'KXP2', perDay: 4 },
  { venue: 'MTKP', product: 'KXP2', perDay: 3 },
  { venue: 'ARIA', product: 'RXP2', perDay: 3 },
  { venue: 'BLSX', product: 'KXP2', perDay: 1 },
  { venue: 'NRDQ', product: 'RXP2', perDay: 2 },
];
for (let day = 13; day >= 1; day--) {
  for (const { venue, product, perDay } of plan) {
    const count = Math.max(0, perDay + ((day * 7 + venue.length) % 3) - 1);
    for (let i = 0; i < count; i++) {
      offsetMs = -day * DAY - (6 - i) * 40 * 60_000;
      const device = FakeDevice.numbered(server.deviceUrl, serial++);
      await device.requestConfig({ venue_code: venue, product_type: product });
      offsetMs += 3 * 60_000;
      await device.reportDownload(60, (40 + (serial % 30)) * 1024 * 1024);
      offsetMs += (5 + (serial % 7)) * 60_000;
      if (serial % 11 === 0) await device.report('failed', { error_message: FAILURES[serial % FAILURES.length]! });
      else await device.report('completed', { progress: 100 });
    }
  }
}
offsetMs = 0;
// Old failures were dealt with at the time; the last two still wait in the lane.
const { items: oldFailures } = await admin.get<{ items: Id[] }>('/api/deployments?attention=true&limit=500');
for (const failure of oldFailures.slice(2)) await admin.post(`/api/deployments/${failure.id}/attention`, { resolution: 'acknowledged' });

// Batches in every state.
const batch = (body: object) => admin.post<{ batch: Id }>('/api/batches', body).then((r) => r.batch.id);
const done = await batch({ venue_code: 'NRDQ', product_type: 'RXP2', total_count: 2, name: 'Nordique pilot' });
await admin.post(`/api/batches/${done}/start`);
for (let i = 0; i < 2; i++) {
  const device = FakeDevice.numbered(server.deviceUrl, serial++);
  await device.requestConfig();
  await device.report('completed', { progress: 100 });
}
const cancelled = await batch({ venue_code: 'BLSX', product_type: 'KXP2', total_count: 6, name: 'Winter spares' });
await admin.post(`/api/batches/${cancelled}/cancel`);
const live = await batch({ venue_code: 'CORO', product_type: 'KXP2', total_count: 12, priority: 10, name: 'Race day fleet', notes: 'Karts 1–12 for the Saturday endurance' });
await batch({ venue_code: 'MTKP', product_type: 'KXP2', total_count: 20, priority: 5, name: 'Season opener', peer_delivery: false });
const paused = await batch({ venue_code: 'ARIA', product_type: 'RXP2', total_count: 8, name: 'RaceXPro pit wall', peer_linger_s: 300 });
await batch({ venue_code: 'BLSX', product_type: 'KXP2', total_count: 4, priority: -2 });
await admin.post(`/api/batches/${paused}/start`);
await admin.post(`/api/batches/${paused}/pause`);
await admin.post(`/api/batches/${live}/start`);

// The live batch, mid-flight, its devices sharing chunks (one-to-many): some receive from each other, one has
// finished and serves the rest before it reboots.
const { images } = await admin.get<{ images: MasterImage[] }>('/api/images');
const chunkCount = images.find((i) => i.product_type === 'KXP2' && i.active)?.delivery?.chunk_count ?? 1;
const holding = (share: number) => {
  const set = new ChunkSet(chunkCount);
  for (let i = 0; i < Math.floor(chunkCount * share); i++) set.add(i);
  return set.encode();
};
const MiB = 1024 * 1024;
const receiving = async (d: FakeDevice, progress: number, rateBps: number, fromPeers: number, fromServer: number) => {
  const total = d.config!.image_size;
  await d.report('downloading', { progress, bytes_total: total, bytes_done: Math.floor((total * progress) / 100), rate_bps: rateBps, bytes_from_peers: fromPeers, bytes_from_server: fromServer });
  await d.announce({ role: 'receiving', have: holding(progress / 100), bytes_from_peers: fromPeers, bytes_from_server: fromServer });
};
const steps: Array<(d: FakeDevice) => Promise<void>> = [
  (d) => d.report('completed', { progress: 100 }),
  async (d) => {
    await d.report('completed', { progress: 100, bytes_from_peers: 1480 * MiB, bytes_from_server: 212 * MiB });
    await d.announce({ role: 'serving', have: holding(1), bytes_from_peers: 1480 * MiB, bytes_from_server: 212 * MiB });
  },
  (d) => d.reportDownload(12, 38 * 1024 * 1024),
  (d) => receiving(d, 47, 52 * MiB, 610 * MiB, 184 * MiB),
  (d) => receiving(d, 83, 61 * MiB, 1390 * MiB, 12 * MiB),
  (d) => d.report('verifying', { progress: 92 }),
  (d) => d.report('customizing', { progress: 98, message: 'Writing hostname to boot partition' }),
  async () => undefined,
  (d) => d.report('failed', { error_message: `read-back verification failed: the disk holds sha256 ${'9f'.repeat(32)}, the image is ${'c4'.repeat(32)} (faulty or counterfeit storage?)`, message: 'failed while verifying' }),
  // Silent for two minutes: stalled.
  async (d) => {
    offsetMs = -120_000;
    await d.reportDownload(31, 12 * MiB);
    offsetMs = 0;
  },
];
for (const step of steps) {
  const device = FakeDevice.numbered(server.deviceUrl, serial++);
  await device.requestConfig();
  await step(device);
}
await admin.post('/api/users', { username: 'maria.ops', password: 'operator-pass-1', role: 'operator' });
await admin.post('/api/users', { username: 'track-tv', password: 'viewer-pass-12', role: 'viewer' });
await admin.post('/api/tokens', { name: 'Provisioning script (CI)' });
await admin.post('/api/tokens', { name: 'Grafana exporter', username: 'track-tv' });

await mkdir(outDir, { recursive: true });
const browser = await launchBrowser();
let n = 0;
const shot = async (page: Page, name: string) => {
  n += 1;
  const file = join(outDir, `${String(n).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  process.stdout.write(`${file}\n`);
};
const settle = (page: Page) => page.waitForLoadState('networkidle');

const desktop = await openPage(browser, server.managementUrl, { width: 1440, height: 900 });
let page = desktop.page;
await page.goto('/');
await page.getByTestId('login-username').waitFor();
await shot(page, 'login');
await signIn(page, 'admin', ADMIN_PASSWORD);
await waitForLive(page);
await page.locator('[data-testid^="deployment-card-"]').first().waitFor();
await settle(page);
await shot(page, 'dashboard');
await page.getByTestId('attention-details-toggle').first().click();
await shot(page, 'dashboard-attention-detail');

// The compact view at 1080p, as on a screen across the room, with a bigger live fleet behind it.
const wall = await batch({ venue_code: 'ARIA', product_type: 'RXP2', total_count: 60, priority: 20, name: 'Grand prix grid' });
await admin.post(`/api/batches/${wall}/start`);
await Promise.all(
  Array.from({ length: 60 }, async (_, i) => {
    const device = FakeDevice.numbered(server.deviceUrl, 0x5000 + i);
    await device.requestConfig();
    if (i % 9 === 4) return device.report('failed', { error_message: 'the target /dev/mmcblk0 holds 3965190144 bytes but the image needs 7948206080' });
    if (i % 5 === 0) return device.report('completed', { progress: 100 });
    return device.reportDownload(5 + ((i * 37) % 90), (20 + (i % 30)) * MiB);
  }),
);
await page.setViewportSize({ width: 1920, height: 1080 });
await page.goto('/?view=table');
await page.locator('[data-testid^="fleet-row-"]').first().waitFor();
await settle(page);
await page.screenshot({ path: join(outDir, `${String(++n).padStart(2, '0')}-dashboard-compact-1080p.png`) });
await shot(page, 'dashboard-compact-full');
await page.goto('/?view=table&state=failed&sort=hostname');
await page.locator('[data-testid^="fleet-row-"]').first().waitFor();
await shot(page, 'dashboard-compact-failed');
await page.setViewportSize({ width: 1440, height: 900 });

const visit = async (path: string, ready: string, name: string, then?: () => Promise<void>) => {
  await page.goto(path);
  await page.locator(ready).first().waitFor();
  await settle(page);
  if (then) await then();
  await shot(page, name);
};
await visit('/venues', '[data-testid="venue-pool-CORO"] .text-success', 'venues');
await visit('/venues/CORO', '[data-testid="pool-kxp2"]', 'venue-detail');
await visit('/venues', '[data-testid="venues-table"]', 'venue-form', async () => {
  await page.getByTestId('venue-create').click();
  await page.getByTestId('venue-code').fill('sp');
  await page.getByTestId('venue-name').fill('Speedpark');
  await page.getByTestId('venue-email').fill('info@');
});
await visit('/kart-numbers?venue=CORO', '[data-testid="pool-table"]', 'kart-numbers');
await visit('/kart-numbers?venue=MTKP&import=1', '[data-testid="kart-import"]', 'kart-import', async () => {
  await page.getByTestId('kart-import-numbers').fill('91-100, 111-130\n140');
});
await visit('/kart-numbers?venue=MTKP&import=1', '[data-testid="kart-import"]', 'kart-import-invalid', async () => {
  await page.getByTestId('kart-import-numbers').fill('91-100, 1O5, 130-120');
});
await visit('/kart-numbers?import=1', '[data-testid="kart-import"]', 'kart-import-rxp2', async () => {
  await page.getByTestId('kart-import-product-RXP2').check();
});
await visit('/batches', '[data-testid="batch-queue"]', 'batches');
await visit('/batches/new?venue=BLSX', '[data-testid="batch-capacity-kxp2"]', 'batch-new', async () => {
  await page.getByTestId('batch-count').fill('40');
});
await visit(`/batches/${live}`, '[data-testid="batch-deployments"] tbody tr', 'batch-detail');
await visit('/images', '[data-testid="images-table"]', 'images', async () => {
  await page.getByTestId('image-file').setInputFiles({ name: 'kxp2_v2.5.0-rc1.img', mimeType: 'application/octet-stream', buffer: Buffer.alloc(1024) });
});
await visit('/deployments', '[data-testid="deployments-table"]', 'deployments');
await visit('/deployments?status=failed', '[data-testid="deployments-table"]', 'deployment-detail', async () => {
  await page.locator('[data-testid^="deployment-row-"]').first().click();
  await page.getByTestId('deployment-detail').waitFor();
});
await visit('/deployments?venue=CORO', '[data-testid^="deployment-peers-"]', 'deployment-detail-peers', async () => {
  await page.locator('[data-testid^="deployment-peers-"]').first().click();
  await page.getByTestId('deployment-detail-peers').waitFor();
});
await visit('/reports', '[data-testid="chart-per-day"] canvas', 'reports');
await visit('/system', '[data-testid="system-status"]', 'system');
await visit('/users', '[data-testid="users-table"]', 'users');
await visit('/users', '[data-testid="users-table"]', 'tokens', async () => {
  await page.getByTestId('tab-tokens').click();
  await page.getByTestId('token-name').fill('Backup job');
  await page.getByTestId('token-create').click();
  await page.getByTestId('token-secret').waitFor();
});
await visit('/users', '[data-testid="users-table"]', 'audit', async () => {
  await page.getByTestId('tab-audit').click();
  await page.getByTestId('audit-table').waitFor();
});
await desktop.context.close();

const phone = await openPage(browser, server.managementUrl, { width: 390, height: 844 });
page = phone.page;
await signIn(page, 'admin', ADMIN_PASSWORD);
await waitForLive(page);
await page.locator('[data-testid^="deployment-card-"]').first().waitFor();
await settle(page);
await shot(page, 'phone-dashboard');
await page.goto('/?view=table');
await page.locator('[data-testid^="fleet-row-"]').first().waitFor();
await settle(page);
await shot(page, 'phone-dashboard-compact');
await page.goto('/');
await page.locator('[data-testid^="deployment-card-"]').first().waitFor();
await page.getByTestId('nav-toggle').click();
await shot(page, 'phone-menu');
await visit('/batches', '[data-testid="batch-queue"]', 'phone-batches');
await visit('/batches/new?venue=BLSX', '[data-testid="batch-capacity-kxp2"]', 'phone-batch-new');
await visit('/deployments', '[data-testid="deployments-table"]', 'phone-deployments');
await visit('/kart-numbers?venue=CORO', '[data-testid="pool-table"]', 'phone-kart-numbers');
await visit('/images', '[data-testid="images-table"]', 'phone-images');
await visit('/reports', '[data-testid="chart-per-day"] canvas', 'phone-reports');
await phone.context.close();

const viewer = await openPage(browser, server.managementUrl, { width: 1440, height: 900 });
page = viewer.page;
await signIn(page, 'track-tv', 'viewer-pass-12');
await visit('/batches', '[data-testid="batch-queue"]', 'viewer-batches');
await visit('/images', '[data-testid="images-table"]', 'viewer-images');
await viewer.context.close();

// The server gone: the banner, and the page greyed beneath it.
const offline = await openPage(browser, server.managementUrl, { width: 1440, height: 900 });
page = offline.page;
await signIn(page, 'admin', ADMIN_PASSWORD);
await waitForLive(page);
await page.locator('[data-testid^="deployment-card-"]').first().waitFor();
await server.running.stop();
await page.getByTestId('disconnected-banner').waitFor();
await shot(page, 'dashboard-disconnected');
await offline.context.close();

await browser.close();
await server.stop().catch(() => undefined);

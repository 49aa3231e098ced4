// One-to-many delivery in the browser: a batch created with it off says so (to operators and viewers), an operator
// switches it on and sets the serving time from the queue, and a device's part in the swarm and its share of chunks
// from peers show on the dashboard and in the history, following what the device tells the device API. Each test
// makes its own batch (cancelling whatever is still open, so its batch is the one serving), and its own viewer page.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPEN_BATCH_STATUSES, type Batch, type Deployment, type MasterImage } from '../../src/contracts/domain.js';
import { ChunkSet } from '../../src/contracts/peer-delivery.js';
import type { ApiSession } from './support/api.session.js';
import { openPage, signIn, waitForLive } from './support/browser.harness.js';
import { openDashboard, type Dashboard } from './support/dashboard.session.js';
import { FakeDevice } from './support/fake-device.js';
import type { E2eServer } from './support/server.harness.js';

const MiB = 1024 * 1024;

describe('one-to-many delivery in the browser', () => {
  let dashboard: Dashboard;
  let server: E2eServer;
  let page: Page;
  let api: ApiSession;
  let chunkCount = 0;

  const toast = (text: string | RegExp) => page.getByTestId('toast').filter({ hasText: text }).first().waitFor();
  const batchOnServer = async (batchId: number) => (await api.get<{ batch: Batch }>(`/api/batches/${batchId}`)).batch;

  /** A KXP2 batch of two at PEER, the only open one (others are cancelled); started when `start` is set. */
  const arrangeBatch = async (name: string, settings: { peer_delivery: boolean; start?: boolean }): Promise<number> => {
    const { batches } = await api.get<{ batches: Batch[] }>('/api/batches');
    for (const open of batches.filter((b) => OPEN_BATCH_STATUSES.includes(b.status))) await api.post(`/api/batches/${open.id}/cancel`);
    const { batch } = await api.post<{ batch: Batch }>('/api/batches', { venue_code: 'PEER', product_type: 'KXP2', total_count: 2, name, peer_delivery: settings.peer_delivery });
    if (settings.start) await api.post(`/api/batches/${batch.id}/start`);
    return batch.id;
  };
  /** The viewer's own page on the batch queue, following live events; closed by `work`'s end. */
  const asViewer = async (work: (viewerPage: Page) => Promise<void>) => {
    const { context, page: viewerPage } = await openPage(dashboard.browser, server.managementUrl);
    try {
      await signIn(viewerPage, 'watcher', 'just-looking-1');
      await viewerPage.goto('/batches');
      await waitForLive(viewerPage);
      await work(viewerPage);
    } finally {
      await context.close();
    }
  };
  /** A device of the batch that fetched 3 MiB of 4 from peers and has stopped serving others. */
  const arrangeFinishedPeer = async (batchId: number, deviceNumber: number): Promise<number> => {
    const device = FakeDevice.numbered(server.deviceUrl, deviceNumber);
    const config = await device.requestConfig();
    expect(config.batch_id).toBe(batchId);
    const all = new ChunkSet(chunkCount);
    for (let i = 0; i < chunkCount; i++) all.add(i);
    const report = { deployment_token: config.deployment_token, bytes_from_peers: 3 * MiB, bytes_from_server: MiB };
    await device.announce({ role: 'receiving', have: new ChunkSet(chunkCount).encode() });
    await device.report('completed', { ...report, progress: 100 });
    await device.announce({ role: 'done', have: all.encode(), bytes_from_peers: report.bytes_from_peers, bytes_from_server: report.bytes_from_server });
    return config.deployment_id;
  };

  beforeAll(async () => {
    dashboard = await openDashboard({
      prepare: async (admin) => {
        api = admin;
        await admin.post('/api/venues', { code: 'PEER', name: 'Peer Park Raceway' });
        await admin.post('/api/kart-numbers', { venue_code: 'PEER', numbers: '1-10' });
        // Every uploaded image gets its chunks (a disk without a partition table is sent whole, as one map).
        const image = await admin.activateNewImage('KXP2', '4.0.0', 3 * MiB);
        const { images } = await admin.get<{ images: MasterImage[] }>('/api/images');
        chunkCount = images.find((i) => i.id === image.id)?.delivery?.chunk_count ?? 0;
        await admin.post('/api/users', { username: 'watcher', password: 'just-looking-1', role: 'viewer' });
      },
    });
    ({ server, page } = dashboard);
    expect(chunkCount).toBeGreaterThan(0);
  });

  afterAll(() => dashboard?.close());

  it('creates a batch with one-to-many off through the form, and the queue says so', async () => {
    await page.goto('/batches/new');
    await page.getByTestId('batch-count').fill('2');
    await page.getByTestId('batch-name').fill('Server only');
    // On by default, serving ten minutes; the time is checked as it is typed.
    expect(await page.getByTestId('batch-peer-delivery').isChecked()).toBe(true);
    expect(await page.getByTestId('batch-peer-linger').inputValue()).toBe('10');
    await page.getByTestId('batch-peer-linger').fill('2000');
    await page.getByTestId('batch-peer-linger-error').filter({ hasText: 'Between 0 and 1440 minutes' }).waitFor();
    await page.getByTestId('batch-peer-delivery').uncheck();
    // Off: the time is not used, so neither checked nor editable.
    expect(await page.getByTestId('batch-peer-linger').isDisabled()).toBe(true);
    expect(await page.getByTestId('batch-peer-linger-error').count()).toBe(0);
    await page.getByTestId('batch-submit').click();

    await toast('created');
    const item = page.locator('[data-testid^="batch-item-"]').filter({ hasText: 'Server only' });
    await item.waitFor();
    const batchId = Number(await item.getAttribute('data-batch-id'));
    await page.locator(`[data-testid="batch-peer-${batchId}"][data-peer-delivery="off"]`).waitFor();
    await page.getByTestId(`batch-peer-off-${batchId}`).waitFor();
    expect(await page.getByTestId(`batch-peer-toggle-${batchId}`).isChecked()).toBe(false);
    expect(await batchOnServer(batchId)).toMatchObject({ peer_delivery: false, peer_linger_s: 600 });
  });

  it('shows a viewer that one-to-many is off, with nothing to switch', async () => {
    const batchId = await arrangeBatch('Viewer sees off', { peer_delivery: false });
    await asViewer(async (viewerPage) => {
      await viewerPage.getByTestId(`batch-peer-off-${batchId}`).filter({ hasText: 'one-to-many off' }).waitFor();
      expect(await viewerPage.locator('[data-testid^="batch-peer-toggle-"], [data-testid^="batch-linger-edit-"]').count()).toBe(0);
    });
  });

  it('switches one-to-many on from the queue and sets the serving time; the server has both', async () => {
    const batchId = await arrangeBatch('Server only', { peer_delivery: false });
    await page.goto('/batches');
    await asViewer(async (viewerPage) => {
      await viewerPage.getByTestId(`batch-peer-off-${batchId}`).waitFor();
      await page.getByTestId(`batch-peer-toggle-${batchId}`).check();
      await toast('One-to-many delivery is on for Server only');
      await page.locator(`[data-testid="batch-peer-${batchId}"][data-peer-delivery="on"]`).waitFor();
      await expect.poll(async () => (await batchOnServer(batchId)).peer_delivery).toBe(true);
      // The viewer's page follows the change live.
      await viewerPage.getByTestId(`batch-linger-${batchId}`).filter({ hasText: 'serves ≤ 10 min' }).waitFor();
      expect(await viewerPage.getByTestId(`batch-peer-off-${batchId}`).count()).toBe(0);
    });

    await page.getByTestId(`batch-linger-edit-${batchId}`).click();
    await page.getByTestId(`batch-linger-input-${batchId}`).fill('3');
    await page.getByTestId(`batch-linger-save-${batchId}`).click();
    await toast('serve others for at most 3 min');
    await page.getByTestId(`batch-linger-${batchId}`).filter({ hasText: 'serves ≤ 3 min' }).waitFor();
    expect(await batchOnServer(batchId)).toMatchObject({ peer_delivery: true, peer_linger_s: 180 });
  });

  it('says why when the server refuses a change, and keeps the switch where the server has it', async () => {
    const batchId = await arrangeBatch('Refused change', { peer_delivery: true });
    await page.goto('/batches');
    await page.locator(`[data-testid="batch-peer-toggle-${batchId}"]:checked:enabled`).waitFor();
    await page.route('**/api/batches/*/peer-delivery', (route) =>
      route.fulfill({ status: 409, contentType: 'application/json', body: JSON.stringify({ success: false, error: `Batch ${batchId} was cancelled meanwhile.`, code: 'CONFLICT' }) }),
    );
    try {
      await page.getByTestId(`batch-peer-toggle-${batchId}`).click();
      await page.getByTestId('toast').filter({ hasText: 'One-to-many not changed' }).filter({ hasText: `Batch ${batchId} was cancelled meanwhile.` }).waitFor();
      await page.locator(`[data-testid="batch-peer-toggle-${batchId}"]:checked:enabled`).waitFor();
    } finally {
      await page.unroute('**/api/batches/*/peer-delivery');
    }
    expect((await batchOnServer(batchId)).peer_delivery).toBe(true);
  });

  it("shows a device's part in the swarm and its share of chunks from peers, live, until it stops serving", async () => {
    const batchId = await arrangeBatch('Swarm', { peer_delivery: true, start: true });
    await page.goto('/');
    await waitForLive(page);

    const device = FakeDevice.numbered(server.deviceUrl, 1);
    const config = await device.requestConfig();
    expect(config.peer_announce_url).toBeTruthy();
    const id = config.deployment_id;
    const card = page.getByTestId(`deployment-card-${id}`);
    const token = { deployment_token: config.deployment_token };
    const bytes = { bytes_from_peers: 3 * MiB, bytes_from_server: MiB };
    const none = new ChunkSet(chunkCount).encode();
    const all = new ChunkSet(chunkCount);
    for (let i = 0; i < chunkCount; i++) all.add(i);

    await device.announce({ role: 'receiving', have: none });
    await device.report('downloading', { ...token, ...bytes, progress: 60, bytes_total: config.image_size, bytes_done: Math.floor(config.image_size * 0.6), rate_bps: 40 * MiB });
    await page.locator(`[data-testid="deployment-card-${id}"][data-role="receiving"][data-status="downloading"]`).waitFor();
    expect(await card.getByTestId('deployment-card-role').textContent()).toBe('receiving');
    const share = card.getByTestId('deployment-card-peers');
    await share.filter({ hasText: '75 % from peers' }).waitFor();
    expect(await share.getAttribute('title')).toBe('3.0 MiB from peers · 1.0 MiB from the server');

    // Installed, then serving others: it stays completed, but shows apart from plain completed, and stays on the board.
    await device.report('completed', { ...token, ...bytes, progress: 100 });
    await device.announce({ role: 'serving', have: all.encode(), ...bytes });
    await page.locator(`[data-testid="deployment-card-${id}"][data-role="serving"][data-status="completed"].pc-serving`).waitFor();
    const role = card.getByTestId('deployment-card-role');
    expect(await role.textContent()).toBe('serving');
    expect(await role.getAttribute('title')).toBe('installed; serving chunks to other devices before it reboots');
    await page.getByTestId('serving-count').filter({ hasText: '1 serving others' }).waitFor();
    await page.getByTestId('live-count').filter({ hasText: /^0$/ }).waitFor();

    // A reload finds it again: a serving device is still on the network.
    await page.reload();
    await page.locator(`[data-testid="deployment-card-${id}"][data-role="serving"]`).waitFor();
    await page.getByTestId('serving-count').waitFor();

    await device.announce({ role: 'done', have: all.encode(), ...bytes });
    await page.locator(`[data-testid="deployment-card-${id}"][data-role="done"]:not(.pc-serving)`).waitFor();
    expect(await page.getByTestId('serving-count').count()).toBe(0);
    await expect.poll(async () => (await api.get<{ items: Deployment[] }>(`/api/deployments?batch=${batchId}`)).items.find((d) => d.id === id)?.delivery_role).toBe('done');
  });

  it('shows the share from peers in the deployment history and its detail', async () => {
    const batchId = await arrangeBatch('History share', { peer_delivery: true, start: true });
    const deploymentId = await arrangeFinishedPeer(batchId, 2);
    await page.goto('/deployments');
    const cell = page.getByTestId(`deployment-peers-${deploymentId}`);
    await cell.filter({ hasText: /^75 %$/ }).waitFor();
    expect(await cell.getAttribute('title')).toBe('3.0 MiB from peers · 1.0 MiB from the server');
    await cell.click();
    await page.getByTestId('deployment-detail-peers').filter({ hasText: 'done' }).filter({ hasText: '75 % from peers' }).waitFor();
  });
});

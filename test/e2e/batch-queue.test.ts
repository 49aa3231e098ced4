// The batch queue's order is the order devices are served in. Dragging a batch (mouse or keyboard) saves the new
// order, which survives a reload; when the server refuses, the list goes back to where it was. Each test starts from
// a queue of its own: whatever is open is cancelled, three fresh batches are queued, and the page is loaded.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiSession } from './support/api.session.js';
import { openDashboard, type Dashboard } from './support/dashboard.session.js';
import { OPEN_BATCH_STATUSES, type Batch } from '../../src/contracts/domain.js';
import { compareQueueOrder } from '../../src/contracts/batch-queue.js';

type BatchAnswer = { batch: { id: number; priority: number } };

describe('batch queue drag and drop', () => {
  let dashboard: Dashboard;
  let page: Page;
  let api: ApiSession;
  const ids: Record<'first' | 'second' | 'third', number> = { first: 0, second: 0, third: 0 };

  const queueOrder = async () =>
    page.locator('[data-testid="batch-queue"] > li').evaluateAll((items) => items.map((li) => Number(li.getAttribute('data-batch-id'))));
  const waitForOrder = (expected: number[]) => expect.poll(queueOrder, { timeout: 10_000 }).toEqual(expected);
  const openBatches = async () => (await api.get<{ batches: Batch[] }>('/api/batches')).batches.filter((b) => OPEN_BATCH_STATUSES.includes(b.status));
  const serverOrder = async () => (await openBatches()).sort(compareQueueOrder).map((b) => b.id);

  /** A queue of three fresh batches at priority 0 (Morning, Afternoon, then RaceXPro spares), shown on the page. */
  const arrangeQueue = async () => {
    for (const batch of await openBatches()) await api.post(`/api/batches/${batch.id}/cancel`);
    ids.first = (await api.post<BatchAnswer>('/api/batches', { venue_code: 'ARIA', product_type: 'KXP2', total_count: 10, name: 'Morning session' })).batch.id;
    ids.second = (await api.post<BatchAnswer>('/api/batches', { venue_code: 'ARIA', product_type: 'KXP2', total_count: 10, name: 'Afternoon session' })).batch.id;
    ids.third = (await api.post<BatchAnswer>('/api/batches', { venue_code: 'ARIA', product_type: 'RXP2', total_count: 5, name: 'RaceXPro spares' })).batch.id;
    await page.goto('/batches');
    await waitForOrder([ids.first, ids.second, ids.third]);
  };

  /** Drags one batch's handle onto another batch's row with real pointer moves. */
  const drag = async (fromId: number, toId: number) => {
    const handle = page.getByTestId(`batch-drag-${fromId}`);
    const target = page.getByTestId(`batch-item-${toId}`);
    const from = (await handle.boundingBox())!;
    const to = (await target.boundingBox())!;
    await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
    await page.mouse.down();
    await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2 - 10, { steps: 4 });
    await page.mouse.move(from.x + from.width / 2, to.y + to.height / 4, { steps: 12 });
    await page.mouse.up();
  };

  beforeAll(async () => {
    dashboard = await openDashboard({
      prepare: async (admin) => {
        api = admin;
        await api.post('/api/venues', { code: 'ARIA', name: 'Aria Raceway' });
        await api.post('/api/kart-numbers', { venue_code: 'ARIA', numbers: '1-60' });
      },
    });
    ({ page } = dashboard);
  });

  afterAll(() => dashboard?.close());

  it('lists open batches in serving order: equal priorities serve the oldest first', async () => {
    await arrangeQueue();
    await expect.poll(serverOrder).toEqual([ids.first, ids.second, ids.third]);
  });

  it('moves a dragged batch above another and keeps the order after a reload', async () => {
    await arrangeQueue();
    await drag(ids.third, ids.first);
    await waitForOrder([ids.third, ids.first, ids.second]);
    await page.getByTestId('toast').filter({ hasText: 'moved to position 1' }).waitFor();
    // It says what it did to the priorities: all three were 0, now 2, 1 and 0.
    await page.getByTestId('toast').filter({ hasText: 'Priorities: RaceXPro spares: 0 → 2; Morning session: 0 → 1.' }).waitFor();
    await expect.poll(serverOrder).toEqual([ids.third, ids.first, ids.second]);

    await page.reload();
    await waitForOrder([ids.third, ids.first, ids.second]);
  });

  it('reorders from the keyboard', async () => {
    await arrangeQueue();
    const announcement = (text: string) => page.locator('[id^="DndLiveRegion"]').filter({ hasText: text }).waitFor({ state: 'attached' });
    await page.getByTestId(`batch-drag-${ids.third}`).focus();
    await page.keyboard.press('Space');
    await page.locator(`[data-testid="batch-drag-${ids.third}"][aria-pressed="true"]`).waitFor();
    // dnd-kit's keyboard sensor starts listening for the arrow keys from a timer set at the pick-up; an arrow
    // pressed before that timer has run is lost. The page's next timer runs after it.
    await page.evaluate(() => new Promise((resolve) => setTimeout(resolve)));
    await page.keyboard.press('ArrowUp');
    await announcement('RaceXPro spares is over position 2');
    await page.keyboard.press('Space');
    await waitForOrder([ids.first, ids.third, ids.second]);
    await page.getByTestId('toast').filter({ hasText: 'moved to position 2' }).waitFor();
    await expect.poll(serverOrder).toEqual([ids.first, ids.third, ids.second]);
  });

  it('shows the new order at once, then rolls it back and says why when the server refuses it', async () => {
    await arrangeQueue();
    // The refusal is held until the optimistic order has been seen, so both halves are observed.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/api/batches/reorder', async (route) => {
      await held;
      await route.fulfill({ status: 409, contentType: 'application/json', body: JSON.stringify({ success: false, error: 'Batch 99 was cancelled meanwhile.', code: 'CONFLICT' }) });
    });
    const before = await queueOrder();
    expect(before).toEqual([ids.first, ids.second, ids.third]);
    await drag(ids.third, ids.first);
    await waitForOrder([ids.third, ids.first, ids.second]);
    release();
    await page.getByTestId('toast').filter({ hasText: 'Batch 99 was cancelled meanwhile.' }).waitFor();
    await waitForOrder(before);
    expect(await serverOrder()).toEqual(before);
    await page.unroute('**/api/batches/reorder');
  });

  it('offers only the legal moves and follows status changes made elsewhere', async () => {
    await arrangeQueue();
    const item = (id: number) => page.getByTestId(`batch-item-${id}`);
    expect(await item(ids.first).getByTestId(`batch-start-${ids.first}`).count()).toBe(1);
    expect(await item(ids.first).getByTestId(`batch-pause-${ids.first}`).count()).toBe(0);

    // Another operator starts a batch through the API: this page follows without a reload.
    await api.post(`/api/batches/${ids.first}/start`);
    await page.locator(`[data-testid="batch-item-${ids.first}"][data-status="active"]`).waitFor();
    await item(ids.first).getByTestId(`batch-pause-${ids.first}`).click();
    await page.locator(`[data-testid="batch-item-${ids.first}"][data-status="paused"]`).waitFor();
    expect(await item(ids.first).getByTestId(`batch-start-${ids.first}`).textContent()).toContain('Resume');

    await item(ids.second).getByTestId(`batch-cancel-${ids.second}`).click();
    await page.getByTestId('confirm-ok').click();
    await page.getByTestId(`batch-item-${ids.second}`).waitFor({ state: 'detached' });
    await page.getByTestId(`batch-row-${ids.second}`).waitFor();
  });
});

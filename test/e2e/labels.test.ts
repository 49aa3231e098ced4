// Printable labels: a batch's sheet lists each unit with its hostname, kart number and serial, and a QR code that
// decodes (jsQR on the SVG rasterised by Chromium) to the unit's record in the dashboard; sheet sizes change the
// pagination, and the printed PDF holds the sheets alone, one page each.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labelQrPayload } from '../../src/contracts/labels.js';
import { openDashboard, type Dashboard } from './support/dashboard.session.js';
import { FakeDevice } from './support/fake-device.js';

const JSQR_SOURCE = readFileSync(createRequire(import.meta.url).resolve('jsqr'), 'utf8');
const UNITS = 23;

// Runs in the page (this project's Node typings know no DOM, so it travels as text): each label's QR SVG is drawn
// onto a white canvas at print-like resolution and read by jsQR.
const DECODE_LABEL_QR_CODES = `(async () => {
  const results = [];
  for (const label of document.querySelectorAll('[data-testid="label"]')) {
    const image = new Image();
    image.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(new XMLSerializer().serializeToString(label.querySelector('svg')));
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = 340;
    const context = canvas.getContext('2d');
    context.fillStyle = '#fff';
    context.fillRect(0, 0, 340, 340);
    context.drawImage(image, 20, 20, 300, 300);
    const pixels = context.getImageData(0, 0, 340, 340);
    results.push({ hostname: label.dataset.hostname, decoded: window.jsQR(pixels.data, pixels.width, pixels.height)?.data ?? null });
  }
  return results;
})()`;

async function decodeQrCodes(page: Page): Promise<Array<{ hostname: string; decoded: string | null }>> {
  if (!(await page.evaluate('typeof window.jsQR === "function"'))) await page.addScriptTag({ content: JSQR_SOURCE });
  return page.evaluate<Array<{ hostname: string; decoded: string | null }>>(DECODE_LABEL_QR_CODES);
}

describe('label sheets', () => {
  let dashboard: Dashboard;
  let page: Page;
  let batchId = 0;
  const devices: FakeDevice[] = [];

  beforeAll(async () => {
    dashboard = await openDashboard({
      prepare: async (admin, server) => {
        await admin.post('/api/venues', { code: 'CORO', name: 'Coronado Karting' });
        await admin.post('/api/venues', { code: 'ARIA', name: 'Aria Raceway' });
        await admin.post('/api/kart-numbers', { venue_code: 'CORO', numbers: '1-40' });
        await admin.activateNewImage('KXP2', '3.1.0', 64 * 1024);
        batchId = (await admin.post<{ batch: { id: number } }>('/api/batches', { venue_code: 'CORO', product_type: 'KXP2', total_count: UNITS, name: 'Season opener' })).batch.id;
        await admin.post(`/api/batches/${batchId}/start`);
        for (let n = 1; n <= UNITS; n += 1) {
          const device = FakeDevice.numbered(server.deviceUrl, n);
          await device.requestConfig();
          devices.push(device);
        }
      },
    });
    page = dashboard.page;
  });
  afterAll(() => dashboard?.close());

  it('opens from the batch page with a label per unit: hostname, kart number and serial', async () => {
    await page.goto(`/batches/${batchId}`);
    await page.getByTestId('batch-labels').click();
    await page.waitForURL(`**/labels?batch=${batchId}`);
    await expect.poll(() => page.getByTestId('label').count()).toBe(UNITS);
    expect(await page.getByTestId('labels-summary').textContent()).toContain(`${UNITS} units on 2 sheets`);
    expect(await page.getByTestId('label-sheet').count()).toBe(2);
    expect(await page.getByTestId('navbar').count()).toBe(0);

    const first = page.getByTestId('label').first();
    expect(await first.getByTestId('label-hostname').textContent()).toBe('KXP2-CORO-001');
    expect(await first.getByTestId('label-kart').textContent()).toBe('Kart 1');
    expect(await first.getByTestId('label-serial').textContent()).toBe(`S/N ${devices[0]!.serial.toLowerCase()}`);
    const hostnames = await page.getByTestId('label-hostname').allTextContents();
    expect(hostnames).toEqual(devices.map((_, i) => `KXP2-CORO-${String(i + 1).padStart(3, '0')}`));
  });

  it('prints QR codes that decode to each unit\'s record in this dashboard', async () => {
    const origin = new URL(dashboard.server.managementUrl).origin;
    const decoded = await decodeQrCodes(page);
    expect(decoded).toHaveLength(UNITS);
    for (const { hostname, decoded: payload } of decoded) expect(payload).toBe(labelQrPayload(origin, hostname));

    // Scanning one opens the unit's deployment record.
    await page.goto(decoded[4]!.decoded!);
    await page.getByTestId('navbar').waitFor();
    await expect.poll(() => page.locator('main').textContent()).toContain('KXP2-CORO-005');
    await page.goBack();
    await page.getByTestId('label').first().waitFor();
  });

  it('paginates for the chosen label sheet and leaves used labels of a first sheet blank', async () => {
    await page.getByTestId('labels-layout').selectOption('5160');
    await expect.poll(() => page.getByTestId('label-sheet').count()).toBe(1);
    await page.getByTestId('labels-skip').fill('10');
    await expect.poll(() => page.getByTestId('label-sheet').count()).toBe(2);
    // The 10 skipped positions come first, then the units in order.
    const firstSheetCells = page.getByTestId('label-sheet').first().locator('.pc-label');
    expect(await firstSheetCells.count()).toBe(30);
    expect(await firstSheetCells.nth(9).getAttribute('data-hostname')).toBeNull();
    expect(await firstSheetCells.nth(10).getAttribute('data-hostname')).toBe('KXP2-CORO-001');
    expect(page.url()).toContain('layout=5160');
  });

  it('prints the sheets alone, one page each at the sheet\'s paper size', async () => {
    await page.emulateMedia({ media: 'print' });
    expect(await page.getByTestId('labels-toolbar').isVisible()).toBe(false);
    const pdf = (await page.pdf({ preferCSSPageSize: true, printBackground: true })).toString('latin1');
    await page.emulateMedia({ media: null });
    const pages = pdf.match(/\/Type\s*\/Page(?!s)/g) ?? [];
    expect(pages).toHaveLength(2);
    // US Letter, 612 × 792 points.
    expect(pdf).toMatch(/\/MediaBox\s*\[\s*0 0 612 792\s*\]/);
  });

  it('lists a venue\'s units too, and says so when there are none', async () => {
    await page.goto('/venues/CORO');
    await page.getByTestId('venue-labels').click();
    await expect.poll(() => page.getByTestId('label').count()).toBe(UNITS);
    await page.goto('/labels?venue=ARIA');
    await page.getByTestId('labels-empty').waitFor();
    expect(await page.getByTestId('labels-print').isDisabled()).toBe(true);
    await page.goto('/labels?venue=ZZZZ');
    await page.getByTestId('error-alert').waitFor();
    expect(await page.getByTestId('error-alert').textContent()).toContain('There is no venue ZZZZ');
  });
});

// Two hundred devices reporting once a second, watched in the compact view: every one is listed, sorting and
// filtering work while reports pour in, and the browser's frame times during the run are printed (measured, not
// asserted: they depend on the machine). Devices are driven by direct device-API reports, so the load is exactly
// 200 reports a second and nothing else competes for the cores.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForLive } from './support/browser.harness.js';
import { openDashboard, type Dashboard } from './support/dashboard.session.js';
import { FakeDevice } from './support/fake-device.js';
import type { E2eServer } from './support/server.harness.js';

const FLEET = 200;
/** Seconds of reporting at 1 Hz: each device goes from 0 to 100 % in this many reports. */
const SECONDS = 20;
/** Every tenth device fails half-way. */
const FAILS = (index: number) => index % 10 === 7;

interface FrameStats {
  frames: number;
  p50: number;
  p95: number;
  max: number;
  longTasks: number;
  longTaskMs: number;
}

// Both run in the page (this project's Node typings know no DOM, so they travel as text).
/** Starts recording requestAnimationFrame deltas and long tasks in the page. */
const START_FRAME_RECORDER = `(() => {
  const state = { deltas: [], longTasks: [], running: true, last: performance.now() };
  window.__frames = state;
  new PerformanceObserver((list) => { for (const entry of list.getEntries()) state.longTasks.push(entry.duration); }).observe({ type: 'longtask' });
  const tick = (at) => { state.deltas.push(at - state.last); state.last = at; if (state.running) requestAnimationFrame(tick); };
  requestAnimationFrame((at) => { state.last = at; requestAnimationFrame(tick); });
})()`;

/** Stops recording and sums up: frame-time percentiles (ms) and long tasks. */
const STOP_FRAME_RECORDER = `(() => {
  const state = window.__frames;
  state.running = false;
  const sorted = [...state.deltas].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { frames: sorted.length, p50: at(0.5), p95: at(0.95), max: sorted.at(-1) ?? 0, longTasks: state.longTasks.length, longTaskMs: state.longTasks.reduce((a, b) => a + b, 0) };
})()`;

const startFrameRecorder = (page: Page) => page.evaluate(START_FRAME_RECORDER);
const stopFrameRecorder = (page: Page) => page.evaluate<FrameStats>(STOP_FRAME_RECORDER);

const rows = (page: Page) => page.locator('[data-testid^="fleet-row-"]');

describe('the compact view with 200 devices at 1 Hz', () => {
  let dashboard: Dashboard;
  let server: E2eServer;
  let page: Page;

  beforeAll(async () => {
    dashboard = await openDashboard({
      prepare: async (admin) => {
        await admin.post('/api/venues', { code: 'ARIA', name: 'Aria Raceway' });
        await admin.activateNewImage('RXP2', '2.0.0', 1024 * 1024);
        await admin.startBatch({ venue_code: 'ARIA', product_type: 'RXP2', total_count: FLEET, name: 'Two hundred' });
      },
    });
    ({ server, page } = dashboard);
    await page.setViewportSize({ width: 1920, height: 1080 });
    await page.goto('/?view=table');
    await waitForLive(page);
  });

  afterAll(() => dashboard?.close());

  it('lists every device, sorts and filters while they report, and stays measured', { timeout: 180_000 }, async () => {
    const devices = Array.from({ length: FLEET }, (_, i) => FakeDevice.numbered(server.deviceUrl, 0x10000 + i));
    for (let i = 0; i < FLEET; i += 20) await Promise.all(devices.slice(i, i + 20).map((d) => d.requestConfig()));
    await page.getByTestId('live-count').filter({ hasText: new RegExp(`^${FLEET}$`) }).waitFor();
    await page.locator(`[data-testid="fleet-shown"]`).filter({ hasText: `${FLEET} of ${FLEET} shown` }).waitFor();

    await startFrameRecorder(page);
    const started = Date.now();
    for (let second = 1; second <= SECONDS; second++) {
      // Reports spread over the second, as 200 independent boards would send them.
      await Promise.all(
        devices.map(async (device, index) => {
          await new Promise((resolve) => setTimeout(resolve, (index * 1000) / FLEET));
          const progress = Math.round((100 * second) / SECONDS);
          if (FAILS(index) && second === SECONDS / 2) return device.report('failed', { error_message: `writing /dev/mmcblk0 at byte ${index * 4096} made no progress` });
          if (FAILS(index) && second > SECONDS / 2) return undefined;
          if (second === SECONDS) return device.report('completed', { progress: 100 });
          return device.reportDownload(progress, (30 + (index % 20)) * 1024 * 1024);
        }),
      );
      // Keep the pace at one report per device per second, whatever the posting took.
      const due = started + second * 1000;
      if (Date.now() < due) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));

      // Sorting and filtering are exercised mid-run, while reports arrive.
      if (second === 5) {
        const expected = devices.map((d) => d.config!.hostname).sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
        const firstTwo = () => rows(page).evaluateAll((list) => list.slice(0, 2).map((row) => row.getAttribute('data-hostname')));
        await page.getByTestId('fleet-sort-hostname').click();
        await expect.poll(firstTwo).toEqual(expected.slice(0, 2));
        await page.getByTestId('fleet-sort-hostname').click();
        await expect.poll(firstTwo).toEqual(expected.slice(-2).reverse());
      }
      if (second === 8) {
        await page.getByTestId('fleet-search').fill(devices[42]!.serial.slice(-6));
        await page.locator('[data-testid="fleet-shown"]').filter({ hasText: `1 of ${FLEET} shown` }).waitFor();
        expect(await rows(page).first().getAttribute('data-hostname')).toBe(devices[42]!.config!.hostname);
        await page.getByTestId('fleet-search').fill('');
      }
    }
    const frames = await stopFrameRecorder(page);
    const elapsed = (Date.now() - started) / 1000;

    const failedCount = devices.filter((_, i) => FAILS(i)).length;
    await page.getByTestId('live-count').filter({ hasText: /^0$/ }).waitFor();
    await page.getByTestId('fleet-filter-state').selectOption('failed');
    await page.locator('[data-testid="fleet-shown"]').filter({ hasText: `${failedCount} of ${FLEET} shown` }).waitFor();
    expect(await rows(page).evaluateAll((list) => list.every((row) => row.getAttribute('data-state') === 'failed'))).toBe(true);
    await page.getByTestId('fleet-filter-state').selectOption('completed');
    await page.locator('[data-testid="fleet-shown"]').filter({ hasText: `${FLEET - failedCount} of ${FLEET} shown` }).waitFor();
    await page.getByTestId('fleet-filter-state').selectOption('');
    await page.locator('[data-testid="fleet-shown"]').filter({ hasText: `${FLEET} of ${FLEET} shown` }).waitFor();
    expect(await rows(page).count()).toBe(FLEET);
    await page.getByTestId('attention-count').filter({ hasText: new RegExp(`^${failedCount}$`) }).waitFor();
    await page.getByTestId('fleet-percent-total').filter({ hasText: /^100 %$/ }).waitFor();

    console.log(
      `frame times with ${FLEET} devices at 1 Hz (${SECONDS} s, ${elapsed.toFixed(1)} s wall): ${frames.frames} frames, ` +
        `p50 ${frames.p50.toFixed(1)} ms, p95 ${frames.p95.toFixed(1)} ms, max ${frames.max.toFixed(1)} ms; ` +
        `${frames.longTasks} long tasks, ${frames.longTaskMs.toFixed(0)} ms in all`,
    );
    expect(frames.frames).toBeGreaterThan(0);
  });
});

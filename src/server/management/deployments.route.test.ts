import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPLOYMENT_CSV_COLUMNS } from '../../core/deployment-csv.js';
import { activateTestImage, startTestServer, type TestServer } from '../test-support/test-server.js';

let t: TestServer;
const ids: number[] = [];
beforeAll(async () => {
  t = await startTestServer();
  const { core } = t.server;
  core.venues.create({ code: 'CORO', name: 'Coronado' });
  core.venues.create({ code: 'ARIA', name: 'Aria' });
  core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-10' });
  await activateTestImage(t.server, 'KXP2');
  await activateTestImage(t.server, 'RXP2');
  for (let n = 1; n <= 5; n++) {
    const answer = await t.device.post('/api/config', { venue_code: 'CORO', product_type: 'KXP2', serial_number: `10000000cc0${n}`, mac_address: `dc:a6:32:00:00:0${n}` });
    ids.push(answer.body.deployment_id);
  }
  const rxp = await t.device.post('/api/config', { venue_code: 'ARIA', product_type: 'RXP2', serial_number: '10000000ABCD9999' });
  ids.push(rxp.body.deployment_id);
  await t.device.post('/api/status', { deployment_id: ids[0], status: 'completed' });
  await t.device.post('/api/status', { deployment_id: ids[1], status: 'failed', error_message: 'disk "full", =cmd' });
});
afterAll(async () => t.close());

describe('deployments API', () => {
  it('lists newest first with paging', async () => {
    const page = await t.as.viewer.get('/api/deployments?page=2&limit=4');
    expect(page.status).toBe(200);
    expect(page.body).toMatchObject({ total: 6, page: 2, limit: 4 });
    expect(page.body.items.map((d: { id: number }) => d.id)).toEqual([ids[1], ids[0]]);
    const defaults = await t.as.viewer.get('/api/deployments');
    expect(defaults.body).toMatchObject({ page: 1, limit: 50, total: 6 });
  });

  it('filters by venue, status, product, search and dates', async () => {
    const get = async (query: string) => (await t.as.viewer.get(`/api/deployments?${query}`)).body;
    expect((await get('venue=aria')).items.map((d: { hostname: string }) => d.hostname)).toEqual(['RXP2-ARIA-ABCD9999']);
    expect((await get('status=failed')).items[0]).toMatchObject({ id: ids[1], error_message: 'disk "full", =cmd' });
    expect((await get('product=KXP2')).total).toBe(5);
    expect((await get('search=cc03')).items.map((d: { id: number }) => d.id)).toEqual([ids[2]]);
    expect((await get('search=dc:a6:32:00:00:05')).total).toBe(1);
    const today = new Date();
    const day = `${today.getFullYear()}-${String(today.getMonth() + 1).padStart(2, '0')}-${String(today.getDate()).padStart(2, '0')}`;
    expect((await get(`from=${day}&to=${day}`)).total).toBe(6);
    expect((await get('from=2000-01-01&to=2000-01-02')).total).toBe(0);
  });

  it.each([
    ['status=lost', /Field "status" must be one of/],
    ['product=ABC', /Field "product"/],
    ['from=2024-13-45', /Field "from" must be a valid date/],
    ['from=yesterday', /Field "from" must be a valid date/],
    ['from=2024-02-10&to=2024-02-01', /must not be after/],
    ['page=0', /Field "page" must be >= 1/],
    ['limit=501', /Field "limit" must be <= 500/],
    ['format=xml', /Field "format"/],
    ['venue=TOOLONG', /Field "venue"/],
  ])('refuses ?%s', async (query, message) => {
    const answer = await t.as.viewer.get(`/api/deployments?${query}`);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatch(message);
  });

  it('exports the filtered history as CSV that spreadsheets read safely', async () => {
    const answer = await t.as.viewer.get('/api/deployments?format=csv&product=KXP2');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(answer.headers.get('content-disposition')).toMatch(/attachment; filename="pitcrew-deployments-\d{4}-\d{2}-\d{2}\.csv"/);
    const lines = answer.text.trimEnd().split('\r\n');
    expect(lines[0]).toBe(DEPLOYMENT_CSV_COLUMNS.join(','));
    expect(lines).toHaveLength(6);
    expect(answer.text).toContain('"disk ""full"", =cmd"');
    expect(answer.text).not.toContain('RXP2-ARIA');
  });

  it('reads one deployment', async () => {
    expect((await t.as.viewer.get(`/api/deployments/${ids[0]}`)).body).toMatchObject({ id: ids[0], status: 'completed', progress: 100 });
    expect((await t.as.viewer.get('/api/deployments/99999')).status).toBe(404);
  });

  it('summarises completion rate per venue and per day in /api/reports', async () => {
    const report = await t.as.viewer.get('/api/reports');
    expect(report.status).toBe(200);
    expect(report.body).toMatchObject({ total: 6, completed: 1, failed: 1, completion_rate: 0.5 });
    expect(report.body.per_venue).toEqual([expect.objectContaining({ venue_code: 'CORO', completed: 1, failed: 1 })]);
    expect((await t.as.viewer.get('/api/reports?venue=ARIA')).body).toMatchObject({ total: 1, completed: 0 });
    expect((await t.as.viewer.get('/api/reports?from=2030-01-02&to=2030-01-01')).status).toBe(400);
    expect((await t.as.viewer.get('/api/reports?product=XYZ')).status).toBe(400);
  });

  it('serves /api/stats', async () => {
    const stats = await t.as.viewer.get('/api/stats');
    expect(stats.body).toEqual({ active_deployments: 4, completed_today: 1, failed_today: 1, total_devices: 6 });
  });
});

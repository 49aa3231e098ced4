import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activateTestImage, HttpClient, startTestServer, type TestServer } from '../test-support/test-server.js';
import { rawRequest } from '../device/test-support/image-http.js';
import { precompressWebAssets } from './web-assets.precompressor.js';

let t: TestServer;
let webDir: string;
beforeAll(async () => {
  webDir = await mkdtemp(join(tmpdir(), 'pitcrew-web-'));
  await mkdir(join(webDir, 'assets'));
  await writeFile(join(webDir, 'index.html'), '<!doctype html><title>Pitcrew</title><div id="root"></div>');
  await writeFile(join(webDir, 'assets', 'app-1a2b3c.js'), 'console.log("pitcrew")');
  await writeFile(join(webDir, '.secret'), 'hidden');
  t = await startTestServer({ webDir, maxImageBytes: 5 * 2 ** 30 }, {
    netboot: { status: () => ({ state: 'running', pid: 4242, restarts: 1, recent: ['DHCPACK(eth1) 10.42.0.23'] }) },
  });
});
afterAll(async () => {
  await t.close();
  await rm(webDir, { recursive: true, force: true });
});

describe('system status', () => {
  it('reports versions, disk, connections, downloads and network boot', async () => {
    await activateTestImage(t.server, 'KXP2');
    const answer = await t.as.viewer.get('/api/system/status');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      status: 'ok',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      node_version: process.version,
      sqlite_version: expect.stringMatching(/^3\./),
      data_dir: t.dataDir,
      max_image_bytes: 5 * 2 ** 30,
      connected_clients: 0,
      active_downloads: 0,
      device_url: null,
      netboot: { state: 'running', pid: 4242, restarts: 1, recent: ['DHCPACK(eth1) 10.42.0.23'] },
    });
    expect(answer.body.disk.total_bytes).toBeGreaterThan(answer.body.disk.free_bytes);
    expect(answer.body.disk.images_bytes).toBe(t.server.core.images.list()[0]!.size_bytes);
  });

  it('answers /health without a login', async () => {
    expect((await t.anonymous.get('/health')).body).toMatchObject({ status: 'ok' });
  });
});

describe('metrics', () => {
  it('serves Prometheus text to an API token: deployments by state, assignments, bytes served, latencies', async () => {
    const { core } = t.server;
    core.venues.create({ code: 'METR', name: 'Metrics' });
    core.pool.importKartNumbers({ venue_code: 'METR', numbers: '1-3' });
    const config = await t.device.post('/api/config', { venue_code: 'METR', product_type: 'KXP2', serial_number: 'ee01' });
    await t.device.post('/api/status', { deployment_id: config.body.deployment_id, status: 'downloading' });
    const { secret } = t.server.accounts.createToken(t.server.accounts.findUserByName('viewer')!.id, 'prometheus');
    const scraper = new HttpClient(t.managementUrl, { authorization: `Bearer ${secret}` });
    const answer = await scraper.get('/metrics');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = answer.text;
    expect(text).toContain('# TYPE pitcrew_deployments gauge');
    expect(text).toContain('pitcrew_deployments{state="downloading",product="KXP2"} 1');
    expect(text).toContain('pitcrew_deployments{state="completed",product="RXP2"} 0');
    expect(text).toMatch(/^pitcrew_hostname_assignments_total 1$/m);
    expect(text).toMatch(/^pitcrew_image_bytes_served_total \d+$/m);
    expect(text).toMatch(/^pitcrew_image_uploads_active 0$/m);
    expect(text).toContain('pitcrew_hostnames{state="available",product="KXP2"} 2');
    expect(text).toMatch(/pitcrew_http_request_duration_seconds_count\{listener="device",method="POST",route="\/api\/config"\} 1/);
    expect(text).toMatch(/pitcrew_http_requests_total\{listener="device",method="POST",route="\/api\/status",status="200"\} 1/);
    expect((await t.anonymous.get('/metrics')).status).toBe(401);
  });
});

describe('OpenAPI', () => {
  it('serves the document generated from the route schemas, and its browsable UI, to logged-in users only', async () => {
    const doc = await t.as.viewer.get('/api/docs/json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.0.3');
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/api/venues', '/api/batches/{id}/start', '/api/deployments', '/api/images/upload']));
    const create = doc.body.paths['/api/batches'].post;
    expect(create.requestBody.content['application/json'].schema.required).toEqual(expect.arrayContaining(['venue_code', 'product_type', 'total_count']));
    expect(doc.body.paths['/api/deployments'].get.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['venue', 'status', 'from', 'to', 'search', 'page', 'limit', 'format']));
    const ui = await t.as.viewer.get('/api/docs/static/index.html');
    expect(ui.status).toBe(200);
    expect(ui.text).toContain('swagger');
    expect((await t.anonymous.get('/api/docs/json')).status).toBe(401);
    expect((await t.anonymous.get('/api/docs')).status).toBe(401);
  });

  it('does not tell browsers to upgrade the docs page\'s own requests to https, which a plain-http server cannot answer', async () => {
    for (const path of ['/api/docs', '/api/docs/static/index.html', '/api/docs/static/swagger-initializer.js']) {
      const answer = await t.as.viewer.get(path);
      expect(answer.status, path).toBe(200);
      const policy = answer.headers.get('content-security-policy') ?? '';
      expect(policy, path).toContain("default-src 'self'");
      expect(policy, path).toContain("script-src 'self'");
      expect(policy, path).not.toContain('upgrade-insecure-requests');
    }
  });
});

describe('web UI', () => {
  it('serves index.html for the app and its deep links, without a login', async () => {
    for (const path of ['/', '/batches/12', '/venues/CORO?tab=pool', '/login']) {
      const answer = await t.anonymous.get(path);
      expect(answer.status, path).toBe(200);
      expect(answer.headers.get('content-type')).toMatch(/^text\/html/);
      expect(answer.headers.get('cache-control')).toBe('no-cache');
      expect(answer.text).toContain('<div id="root">');
    }
  });

  it('serves hashed assets as immutable, and revalidates with ETag', async () => {
    const asset = await t.anonymous.get('/assets/app-1a2b3c.js');
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect(asset.text).toBe('console.log("pitcrew")');
    const again = await t.anonymous.get('/assets/app-1a2b3c.js', { headers: { 'if-none-match': asset.headers.get('etag')! } });
    expect(again.status).toBe(304);
  });

  it('sends the build\'s brotli or gzip twin to a browser that accepts it, and the plain file otherwise', async () => {
    const script = `export const rows = [${Array.from({ length: 400 }, (_, i) => `{ id: ${i}, name: "kart ${i}" }`).join(', ')}];`;
    const path = join(webDir, 'assets', 'fleet-9f8e7d.js');
    await writeFile(path, script);
    expect(precompressWebAssets(webDir)).toBe(2);
    expect(existsSync(`${path}.br`) && existsSync(`${path}.gz`)).toBe(true);
    // index.html is too small to be worth a twin.
    expect(existsSync(join(webDir, 'index.html.br'))).toBe(false);

    const get = (acceptEncoding?: string) => rawRequest(t.managementUrl, 'GET', '/assets/fleet-9f8e7d.js', acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding });
    const brotli = await get('gzip, deflate, br');
    expect(brotli.headers['content-encoding']).toBe('br');
    expect(brotli.headers['content-type']).toMatch(/^text\/javascript/);
    expect(brotli.headers.vary).toBe('accept-encoding');
    expect(Number(brotli.headers['content-length'])).toBeLessThan(script.length / 4);
    expect(brotliDecompressSync(brotli.body).toString()).toBe(script);

    const gzip = await get('gzip');
    expect(gzip.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gzip.body).toString()).toBe(script);
    expect((await get('br;q=0, gzip;q=0.8')).headers['content-encoding']).toBe('gzip');

    for (const refused of [undefined, 'identity', 'br;q=0, gzip;q=0']) {
      const plain = await get(refused);
      expect(plain.headers['content-encoding'], String(refused)).toBeUndefined();
      expect(plain.body.toString(), String(refused)).toBe(script);
    }
    // Each encoding is its own representation, revalidated by its own ETag.
    expect(brotli.headers.etag).not.toBe(gzip.headers.etag);
    expect((await rawRequest(t.managementUrl, 'GET', '/assets/fleet-9f8e7d.js', { 'accept-encoding': 'br', 'if-none-match': brotli.headers.etag! })).status).toBe(304);
  });

  it('answers 404, not the app, for missing assets, API paths, dot files and paths escaping the folder', async () => {
    expect((await t.anonymous.get('/assets/missing.js')).status).toBe(404);
    const api = await t.anonymous.get('/api/not-a-route');
    expect(api.status).toBe(404);
    expect(api.body).toMatchObject({ success: false, code: 'NOT_FOUND' });
    expect((await t.anonymous.get('/.secret')).text).not.toContain('hidden');
    expect((await t.anonymous.get('/%2e%2e/%2e%2e/etc/passwd')).text).not.toContain('root:');
    expect((await t.anonymous.get('/assets/..%2f..%2f..%2fetc%2fpasswd')).text).not.toContain('root:');
  });
});

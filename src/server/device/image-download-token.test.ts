// Image downloads carry the deployment token of their configuration answer (#16): raw image, manifest and chunks.
// A wrong token is refused always; none at all only where the operator requires tokens; chunks in parallel are
// checked each on their own.
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildDiskImage, makeTempDir, type BuiltImage } from '../../disk-layout/test-support/disk-image.builder.js';
import { DEPLOYMENT_ID_HEADER, DEPLOYMENT_TOKEN_HEADER, type ConfigResponse } from '../../contracts/device-api.js';
import type { ImageManifest } from '../../contracts/image-delivery.js';
import { startTestServer, type TestServer } from '../test-support/test-server.js';
import { jsonOf, rawRequest } from './test-support/image-http.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

let dir: string;
let built: BuiltImage;
let t: TestServer | null = null;

beforeAll(async () => {
  dir = await makeTempDir('pitcrew-download-token-');
  built = await buildDiskImage(dir, { flavour: 'firstrun' });
}, 60_000);
afterAll(async () => rm(dir, { recursive: true, force: true }));
afterEach(async () => {
  await t?.close();
  t = null;
});

async function start(overrides: Parameters<typeof startTestServer>[0] = {}) {
  t = await startTestServer(overrides, { users: false });
  t.server.core.venues.create({ code: 'CORO', name: 'Coronado' });
  t.server.core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-9' });
  const image = await t.server.core.images.registerFile({ product_type: 'KXP2', version: '1.0.0' }, built.path);
  t.server.core.images.activate(image.id);
  expect(image.delivery?.chunk_count).toBeGreaterThan(1);
  return t;
}

async function configFor(serial: string): Promise<ConfigResponse> {
  const answer = await rawRequest(t!.deviceUrl, 'POST', '/api/config', { 'content-type': 'application/json' },
    Buffer.from(JSON.stringify({ product_type: 'KXP2', venue_code: 'CORO', serial_number: serial })));
  expect(answer.status).toBe(200);
  return jsonOf<ConfigResponse>(answer);
}

const credentials = (config: ConfigResponse, token = config.deployment_token!) => ({ [DEPLOYMENT_ID_HEADER]: String(config.deployment_id), [DEPLOYMENT_TOKEN_HEADER]: token });
const pathOf = (url: string) => new URL(url).pathname;
/** The raw image, its manifest and its first chunk: every kind of download an installer makes. */
const downloadsOf = (config: ConfigResponse) => [pathOf(config.image_url), pathOf(config.image_manifest_url!), `${pathOf(config.image_url)}.chunks/0`];
const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => rawRequest(t!.deviceUrl, method, path, headers);

describe('image downloads and the deployment token', () => {
  it('serve the installer that sends its own token, and installers that predate tokens, while not required', async () => {
    await start();
    const config = await configFor('10000000dd01');
    for (const path of downloadsOf(config)) {
      expect((await get(path, credentials(config))).status, path).toBe(200);
      expect((await get(path)).status, path).toBe(200);
      expect((await get(path, credentials(config), 'HEAD')).status, path).toBe(200);
    }
    const raw = await get(pathOf(config.image_url), credentials(config));
    expect(sha256(raw.body)).toBe(config.image_checksum);
  });

  it('refuse a wrong token always: made up, another deployment\'s, or naming another deployment', async () => {
    await start();
    const config = await configFor('10000000dd02');
    const other = await configFor('10000000dd03');
    const wrong = [
      credentials(config, 'x'.repeat(32)),
      credentials(config, other.deployment_token),
      { [DEPLOYMENT_ID_HEADER]: String(other.deployment_id), [DEPLOYMENT_TOKEN_HEADER]: config.deployment_token! },
      { [DEPLOYMENT_ID_HEADER]: '999999', [DEPLOYMENT_TOKEN_HEADER]: config.deployment_token! },
    ];
    for (const path of downloadsOf(config)) {
      for (const headers of wrong) {
        const answer = await get(path, headers);
        expect(answer.status, path).toBe(403);
        expect(jsonOf(answer)).toMatchObject({ code: 'FORBIDDEN', error: expect.stringContaining('deployment token is not the one deployment') });
      }
      expect((await get(path, credentials(config, 'x'.repeat(32)), 'HEAD')).status).toBe(403);
    }
  });

  it('refuse a token that names no deployment as a bad request', async () => {
    await start();
    const config = await configFor('10000000dd04');
    const badRequests: Record<string, string>[] = [{ [DEPLOYMENT_TOKEN_HEADER]: config.deployment_token! }, { [DEPLOYMENT_ID_HEADER]: 'one', [DEPLOYMENT_TOKEN_HEADER]: config.deployment_token! }, { [DEPLOYMENT_ID_HEADER]: '0', [DEPLOYMENT_TOKEN_HEADER]: config.deployment_token! }];
    for (const headers of badRequests) {
      const answer = await get(pathOf(config.image_url), headers);
      expect(answer.status).toBe(400);
      expect(jsonOf(answer)).toMatchObject({ code: 'VALIDATION', error: expect.stringContaining('X-Pitcrew-Deployment-Id') });
    }
  });

  it('refuse downloads without a token, with a clear message, where the operator requires tokens', async () => {
    await start({ requireDeploymentToken: '1' });
    const config = await configFor('10000000dd05');
    for (const path of downloadsOf(config)) {
      const without: Record<string, string>[] = [{}, { [DEPLOYMENT_ID_HEADER]: String(config.deployment_id) }, { [DEPLOYMENT_TOKEN_HEADER]: '  ' }];
      for (const headers of without) {
        const answer = await get(path, headers);
        expect(answer.status, path).toBe(401);
        expect(jsonOf(answer)).toMatchObject({ code: 'UNAUTHENTICATED', error: expect.stringContaining('PITCREW_REQUIRE_DEPLOYMENT_TOKEN') });
      }
      expect((await get(path, credentials(config))).status, path).toBe(200);
      expect((await get(path, credentials(config, 'y'.repeat(32)))).status, path).toBe(403);
    }
  });

  it('check every one of many chunk requests in flight at once, right and wrong tokens mixed', async () => {
    await start({ requireDeploymentToken: '1' });
    const devices = await Promise.all(['10000000dd06', '10000000dd07', '10000000dd08'].map(configFor));
    const manifest = jsonOf<ImageManifest>(await get(pathOf(devices[0]!.image_manifest_url!), credentials(devices[0]!)));
    const requests = manifest.chunks.flatMap((chunk, index) => devices.flatMap((config, d) => [
      { index, chunk, ok: true, answer: get(`${pathOf(config.image_url)}.chunks/${index}`, credentials(config)) },
      // Each device's id with the next one's token: a swap must never pass.
      { index, chunk, ok: false, answer: get(`${pathOf(config.image_url)}.chunks/${index}`, credentials(config, devices[(d + 1) % devices.length]!.deployment_token)) },
    ]));
    expect(requests.length).toBeGreaterThan(20);
    const answers = await Promise.all(requests.map(async (request) => ({ ...request, answer: await request.answer })));
    for (const { index, chunk, ok, answer } of answers) {
      if (ok) {
        expect(answer.status, `chunk ${index}`).toBe(200);
        expect(answer.body.length).toBe(chunk.compressed_length);
      } else {
        expect(answer.status, `chunk ${index}`).toBe(403);
      }
    }
  });
});

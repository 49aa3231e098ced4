import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { installErrorHandling } from '../http/error-handler.js';
import { installerDir } from '../../netboot/installer-files.js';
import { registerInstallerFilesRoute } from './installer-files.route.js';

const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

describe('installer files on the device listener', () => {
  let dir: string;
  let app: FastifyInstance;
  const node = Buffer.from('pretend gzip of node');
  const agent = 'console.log("agent");\n';

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pitcrew-installer-route-'));
    app = Fastify();
    installErrorHandling(app);
    registerInstallerFilesRoute(app, { dataDir: dir, agentBundle: join(dir, 'agent.mjs') });
    await app.ready();
  });
  afterEach(async () => {
    await app.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('says what to run while the installer is not built', async () => {
    const res = await app.inject({ url: '/installer/SHA256SUMS' });
    expect(res.statusCode).toBe(404);
    expect(res.json().error).toMatch(/node\.gz \(run `pitcrew netboot build`\); pitcrew-agent\.mjs \(build Pitcrew/);
  });

  it('serves Node and the agent with checksums /init can verify', async () => {
    await mkdir(installerDir(dir), { recursive: true });
    await writeFile(join(installerDir(dir), 'node.gz'), node);
    await writeFile(join(dir, 'agent.mjs'), agent);
    const sums = await app.inject({ url: '/installer/SHA256SUMS' });
    expect(sums.statusCode).toBe(200);
    expect(sums.body).toBe(`${sha(node)}  node.gz\n${sha(agent)}  pitcrew-agent.mjs\n`);
    const got = await app.inject({ url: '/installer/node.gz' });
    expect(got.statusCode).toBe(200);
    expect(got.rawPayload.equals(node)).toBe(true);
    expect(got.headers.etag).toBe(`"${sha(node)}"`);
    const head = await app.inject({ method: 'HEAD', url: '/installer/pitcrew-agent.mjs' });
    expect(head.statusCode).toBe(200);
    expect(Number(head.headers['content-length'])).toBe(Buffer.byteLength(agent));
    // A changed file gets a fresh checksum.
    await writeFile(join(installerDir(dir), 'node.gz'), Buffer.concat([node, Buffer.from('!')]));
    expect((await app.inject({ url: '/installer/SHA256SUMS' })).body).toContain(`${sha(Buffer.concat([node, Buffer.from('!')]))}  node.gz`);
  });

  it('serves nothing but the installer files', async () => {
    await mkdir(installerDir(dir), { recursive: true });
    await writeFile(join(installerDir(dir), 'pitcrew-installer.manifest.json'), '{}');
    for (const url of ['/installer/pitcrew-installer.manifest.json', '/installer/..%2Fpitcrew.db', '/installer/%2Fetc%2Fpasswd', '/installer/node']) {
      expect((await app.inject({ url })).statusCode, url).toBe(404);
    }
  });
});

// A test double of the device listener for the agent's unit tests (the end-to-end tests use the real server):
// answers /api/config for one image, serves that image with Range/ETag like the server, records every status
// report and refuses reports once a deployment is final (409), as the server does. It can cut a download
// after N bytes, stall, or stop honouring Range, to exercise the installer's resume logic.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { basename } from 'node:path';
import type { ConfigResponse, StatusRequest } from '../../contracts/device-api.js';

export interface ImageRequestRecord {
  range: string | null;
  ifRange: string | null;
  status: number;
}

export interface DeviceApiFixture {
  url: string;
  configRequests: unknown[];
  reports: StatusRequest[];
  imageRequests: ImageRequestRecord[];
  /** Cut the next image response after this many body bytes. */
  cutNextDownloadAfter(bytes: number): void;
  /** Stall the next image response after this many body bytes (the socket stays open, silent). */
  stallNextDownloadAfter(bytes: number): void;
  /** Answer /api/config with this status and body instead of a configuration. */
  refuseConfig(status: number, body: unknown, times?: number): void;
  /** Answer progress reports with 409 from now on (the server closed the deployment). */
  closeDeployment(reason: string): void;
  ignoreRange: boolean;
  etag: string;
  config: ConfigResponse;
  close(): Promise<void>;
}

export async function startDeviceApiFixture(imagePath: string, overrides: Partial<ConfigResponse> = {}): Promise<DeviceApiFixture> {
  const size = (await stat(imagePath)).size;
  const sha256 = await hashFile(imagePath);
  const name = basename(imagePath);
  const sockets = new Set<Socket>();
  let cutAfter: number | null = null;
  let stallAfter: number | null = null;
  let refusal: { status: number; body: unknown; times: number } | null = null;
  let closedReason: string | null = null;
  const finalStatuses = new Set(['completed', 'failed', 'success']);

  const fixture: DeviceApiFixture = {
    url: '',
    configRequests: [],
    reports: [],
    imageRequests: [],
    cutNextDownloadAfter: (bytes) => void (cutAfter = bytes),
    stallNextDownloadAfter: (bytes) => void (stallAfter = bytes),
    refuseConfig: (status, body, times = Infinity) => void (refusal = { status, body, times }),
    closeDeployment: (reason) => void (closedReason = reason),
    ignoreRange: false,
    etag: `"${sha256}"`,
    config: undefined as unknown as ConfigResponse,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };

  const sendJson = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };

  const readJson = async (req: IncomingMessage): Promise<unknown> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  };

  const server = createServer(async (req, res) => {
    if (req.method === 'POST' && req.url === '/api/config') {
      fixture.configRequests.push(await readJson(req));
      if (refusal && refusal.times > 0) {
        refusal.times--;
        return sendJson(res, refusal.status, refusal.body);
      }
      // Each request is a new deployment, as for distinct devices; finality is tracked per deployment.
      return sendJson(res, 200, { ...fixture.config, deployment_id: fixture.config.deployment_id + fixture.configRequests.length - 1 });
    }
    if (req.method === 'POST' && req.url === '/api/status') {
      const report = (await readJson(req)) as StatusRequest;
      const previous = fixture.reports.filter((r) => r.deployment_id === report.deployment_id).at(-1);
      if (closedReason || (previous && finalStatuses.has(previous.status))) {
        return sendJson(res, 409, { success: false, error: closedReason ?? `deployment is already ${previous!.status}`, code: 'DEPLOYMENT_FINAL' });
      }
      fixture.reports.push(report);
      return sendJson(res, 200, { received: true, hostname: report.hostname, deployment_id: report.deployment_id, status: report.status });
    }
    if ((req.method === 'GET' || req.method === 'HEAD') && req.url === `/images/${name}`) return serveImage(req, res);
    sendJson(res, 404, { success: false, error: `no route ${req.method} ${req.url}`, code: 'NOT_FOUND' });
  });

  const serveImage = (req: IncomingMessage, res: ServerResponse) => {
    const rangeHeader = fixture.ignoreRange ? undefined : req.headers.range;
    const ifRange = req.headers['if-range'];
    const record: ImageRequestRecord = { range: req.headers.range ?? null, ifRange: typeof ifRange === 'string' ? ifRange : null, status: 200 };
    fixture.imageRequests.push(record);
    let start = 0;
    let end = size - 1;
    const honourRange = rangeHeader && (!ifRange || ifRange === fixture.etag);
    if (honourRange) {
      const match = /^bytes=(\d+)-(\d*)$/.exec(rangeHeader);
      if (!match || Number(match[1]) >= size) {
        record.status = 416;
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      start = Number(match[1]);
      end = match[2] ? Math.min(Number(match[2]), size - 1) : size - 1;
      record.status = 206;
    }
    const headers: Record<string, string> = { etag: fixture.etag, 'content-length': String(end - start + 1), 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
    if (record.status === 206) headers['content-range'] = `bytes ${start}-${end}/${size}`;
    res.writeHead(record.status, headers);
    if (req.method === 'HEAD') return void res.end();
    const cut = cutAfter;
    const stall = stallAfter;
    cutAfter = null;
    stallAfter = null;
    let sent = 0;
    const stream = createReadStream(imagePath, { start, end, highWaterMark: 64 * 1024 });
    stream.on('data', (chunk) => {
      const piece = chunk as Buffer;
      const limit = cut ?? stall;
      if (limit !== null && sent + piece.length >= limit) {
        res.write(piece.subarray(0, limit - sent));
        stream.destroy();
        // A cut drops the connection; a stall leaves it open and silent.
        if (cut !== null) res.socket?.destroy();
        return;
      }
      sent += piece.length;
      if (!res.write(piece)) {
        stream.pause();
        res.once('drain', () => stream.resume());
      }
    });
    stream.on('end', () => res.end());
  };

  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fixture.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fixture.config = {
    hostname: 'KXP2-TEST-001',
    product_type: 'KXP2',
    venue_code: 'TEST',
    image_url: `${fixture.url}/images/${name}`,
    image_size: size,
    image_checksum: sha256,
    version: '2025.1',
    timestamp: new Date().toISOString(),
    deployment_id: 7,
    batch_id: null,
    status_url: `${fixture.url}/api/status`,
    image_manifest_url: null,
    ...overrides,
  };
  return fixture;
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

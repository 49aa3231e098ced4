// A test double of the device listener for the agent's unit tests (the end-to-end tests use the real server):
// answers /api/config for one image, serves that image with Range/ETag like the server, records every status
// report and refuses reports once a deployment is final (409), as the server does. It can cut a download
// after N bytes, stall, or stop honouring Range, to exercise the installer's resume logic. With `chunks` it also
// serves image delivery v2 (a manifest and zstd chunks made with the zstd program) and can corrupt chunks.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { basename } from 'node:path';
import type { ConfigResponse, StatusRequest } from '../../contracts/device-api.js';
import type { LogUpload } from '../../contracts/card-health.js';
import { CHUNK_RAW_BYTES, MANIFEST_FORMAT, MAP_BLOCK_BYTES, type ImageChunk, type ImageManifest } from '../../contracts/image-delivery.js';
import { answeredBy } from '../../server/test-support/answered-by.js';

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
  /** The next status answer carries an operator's Identify of this many seconds. */
  identifyNext(seconds: number): void;
  /** Installer logs sent to POST /api/deployments/:id/log, in order. */
  logs: Array<{ deploymentId: number; body: LogUpload }>;
  ignoreRange: boolean;
  etag: string;
  config: ConfigResponse;
  /** v2 (with `chunks`): the manifest served, editable; its chunk_url is rewritten to the address the device used. */
  manifest: ImageManifest | null;
  /** v2: the zstd frame of each chunk, editable. */
  frames: Buffer[];
  /** v2: every chunk request, in order. */
  chunkRequests: Array<{ index: number; status: number }>;
  manifestRequests: number;
  /** v2: flip a byte of chunk `index` on the wire, the next `times` times it is sent. */
  corruptChunkOnWire(index: number, times?: number): void;
  /** v2: the next time chunk `index` is sent, stop after this many body bytes and stay silent (a stall). */
  stallChunkAfter(index: number, bytes: number): void;
  close(): Promise<void>;
}

export interface FixtureOptions {
  /** Serve image delivery v2: the manifest URL in the configuration, the manifest and the chunks. */
  chunks?: boolean;
}

export async function startDeviceApiFixture(imagePath: string, overrides: Partial<ConfigResponse> = {}, options: FixtureOptions = {}): Promise<DeviceApiFixture> {
  const size = (await stat(imagePath)).size;
  const sha256 = await hashFile(imagePath);
  const name = basename(imagePath);
  const sockets = new Set<Socket>();
  let cutAfter: number | null = null;
  let stallAfter: number | null = null;
  let refusal: { status: number; body: unknown; times: number } | null = null;
  let closedReason: string | null = null;
  let identifySeconds: number | null = null;
  const wireCorruptions = new Map<number, number>();
  const chunkStalls = new Map<number, number>();
  const store = options.chunks ? await buildTestChunks(imagePath) : null;
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
    identifyNext: (seconds) => void (identifySeconds = seconds),
    logs: [],
    ignoreRange: false,
    etag: `"${sha256}"`,
    config: undefined as unknown as ConfigResponse,
    manifest: store?.manifest ?? null,
    frames: store?.frames ?? [],
    chunkRequests: [],
    manifestRequests: 0,
    corruptChunkOnWire: (index, times = 1) => void wireCorruptions.set(index, times),
    stallChunkAfter: (index, bytes) => void chunkStalls.set(index, bytes),
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

  const server = createServer(answeredBy(async (req, res) => {
    if (req.method === 'POST' && req.url === '/api/config') {
      fixture.configRequests.push(await readJson(req));
      if (refusal && refusal.times > 0) {
        refusal.times--;
        return sendJson(res, refusal.status, refusal.body);
      }
      // Each request is a new deployment, as for distinct devices; finality is tracked per deployment. URLs name
      // the address the device used, as the server's do, so a proxy in front stays in the path.
      const answer = JSON.parse(JSON.stringify(fixture.config).replaceAll(fixture.url, `http://${req.headers.host}`)) as ConfigResponse;
      return sendJson(res, 200, { ...answer, deployment_id: fixture.config.deployment_id + fixture.configRequests.length - 1 });
    }
    if (req.method === 'POST' && req.url === '/api/status') {
      const report = (await readJson(req)) as StatusRequest;
      const previous = fixture.reports.filter((r) => r.deployment_id === report.deployment_id).at(-1);
      if (closedReason || (previous && finalStatuses.has(previous.status))) {
        return sendJson(res, 409, { success: false, error: closedReason ?? `deployment is already ${previous!.status}`, code: 'DEPLOYMENT_FINAL' });
      }
      fixture.reports.push(report);
      const identify = identifySeconds === null ? {} : { identify: { seconds: identifySeconds } };
      identifySeconds = null;
      return sendJson(res, 200, { received: true, hostname: report.hostname, deployment_id: report.deployment_id, status: report.status, ...identify });
    }
    const logUpload = req.method === 'POST' ? /^\/api\/deployments\/(\d+)\/log$/.exec(req.url ?? '') : null;
    if (logUpload) {
      fixture.logs.push({ deploymentId: Number(logUpload[1]), body: (await readJson(req)) as LogUpload });
      return sendJson(res, 200, { received: true, bytes: 0 });
    }
    if ((req.method === 'GET' || req.method === 'HEAD') && req.url === `/images/${name}`) return serveImage(req, res);
    if (req.method === 'GET' && req.url === `/images/${name}.manifest`) {
      fixture.manifestRequests++;
      if (!fixture.manifest) return sendJson(res, 404, { success: false, error: 'no chunks for this image', code: 'NOT_FOUND' });
      return sendJson(res, 200, { ...fixture.manifest, chunk_url: `http://${req.headers.host}/images/${name}.chunks` });
    }
    const chunk = /^\/images\/(.+)\.chunks\/(\d+)$/.exec(req.url ?? '');
    if (req.method === 'GET' && chunk && decodeURIComponent(chunk[1]!) === name) return serveChunk(res, Number(chunk[2]));
    sendJson(res, 404, { success: false, error: `no route ${req.method} ${req.url}`, code: 'NOT_FOUND' });
  }));

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

  const serveChunk = (res: ServerResponse, index: number) => {
    const frame = fixture.frames[index];
    const entry = fixture.manifest?.chunks[index];
    fixture.chunkRequests.push({ index, status: frame && entry ? 200 : 404 });
    if (!frame || !entry) return sendJson(res, 404, { success: false, error: `no chunk ${index}`, code: 'NOT_FOUND' });
    let body = frame;
    const corruptions = wireCorruptions.get(index) ?? 0;
    if (corruptions > 0) {
      wireCorruptions.set(index, corruptions - 1);
      body = Buffer.from(frame);
      // Inside the compressed data, past the frame header: zstd may or may not notice; the hash always does.
      body[Math.floor(body.length / 2)]! ^= 0x40;
    }
    res.writeHead(200, { 'content-type': 'application/zstd', 'content-length': String(body.length), etag: `"${entry.sha256}"` });
    const stall = chunkStalls.get(index);
    chunkStalls.delete(index);
    if (stall !== undefined) return void res.write(body.subarray(0, stall));
    res.end(body);
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
    image_manifest_url: store ? `${fixture.url}/images/${name}.manifest` : null,
    ...overrides,
  };
  return fixture;
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Image delivery v2 for a test image: every 4 KiB block that is not all zeros is mapped (plus the first MiB, where
 * the partition table lives), the ranges cut into chunks of at most 4 MiB, each compressed by the zstd program.
 * The real server maps from the filesystems' own allocation; this is only a stand-in for the agent's unit tests.
 */
export async function buildTestChunks(imagePath: string): Promise<{ manifest: ImageManifest; frames: Buffer[] }> {
  const size = (await stat(imagePath)).size;
  const handle = await open(imagePath, 'r');
  const ranges: Array<{ offset: number; length: number }> = [];
  try {
    const block = Buffer.alloc(MAP_BLOCK_BYTES);
    for (let offset = 0; offset < size; offset += MAP_BLOCK_BYTES) {
      const { bytesRead } = await handle.read(block, 0, MAP_BLOCK_BYTES, offset);
      const used = offset < 1 << 20 || block.subarray(0, bytesRead).some((b) => b !== 0);
      if (!used) continue;
      const last = ranges.at(-1);
      if (last && last.offset + last.length === offset) last.length += bytesRead;
      else ranges.push({ offset, length: bytesRead });
    }
    const chunks: ImageChunk[] = [];
    const frames: Buffer[] = [];
    for (const range of ranges) {
      for (let offset = range.offset; offset < range.offset + range.length; offset += CHUNK_RAW_BYTES) {
        const raw = Buffer.alloc(Math.min(CHUNK_RAW_BYTES, range.offset + range.length - offset));
        await handle.read(raw, 0, raw.length, offset);
        const frame = await zstdCompress(raw);
        frames.push(frame);
        chunks.push({ offset, raw_length: raw.length, compressed_length: frame.length, sha256: createHash('sha256').update(raw).digest('hex') });
      }
    }
    const manifest: ImageManifest = {
      format: MANIFEST_FORMAT,
      image_sha256: await hashFile(imagePath),
      image_size: size,
      block_map: 'filesystems',
      mapped_bytes: chunks.reduce((sum, c) => sum + c.raw_length, 0),
      compressed_bytes: frames.reduce((sum, f) => sum + f.length, 0),
      compression: 'zstd',
      chunk_url: '',
      chunks,
    };
    return { manifest, frames };
  } finally {
    await handle.close();
  }
}

function zstdCompress(raw: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile('zstd', ['-q', '-c', '-3'], { encoding: 'buffer', maxBuffer: 16 << 20 }, (error, stdout) => (error ? reject(error) : resolve(stdout)));
    child.stdin!.end(raw);
  });
}

// One-to-many delivery, the serving side of a device: the compressed chunks it received and checked, kept in memory
// up to a cap, served over HTTP to the peers the server told about it. Only from memory: after customisation the
// card no longer holds every chunk as the manifest describes it, and reading the card back would compete with its
// own writes. At most a few uploads at once (503 beyond), and only to requests that carry the swarm's key (and the
// device token, where the deployment network has one).
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ChunkSet, PEER_CHUNK_PATH_PATTERN, PEER_HAVE_HEADER, PEER_HAVE_HEADER_MAX_LENGTH, PEER_MAX_UPLOADS, SWARM_KEY_HEADER } from '../contracts/peer-delivery.js';

export interface PeerChunkServerOptions {
  imageSha256: string;
  chunkCount: number;
  /** Bytes of compressed chunks kept for serving, at most; later chunks are written but not kept. */
  cacheBytes: number;
  maxUploads?: number;
  /** The deployment network's shared secret (PITCREW_DEVICE_TOKEN), required of peers too when set. */
  deviceToken?: string | null;
  /** Port to listen on (0: any free port). */
  port?: number;
  host?: string;
  /** Failure injection (tests, benchmarks): flip a bit in every chunk served. */
  corruptServed?: boolean;
}

const digest = (text: string) => createHash('sha256').update(text).digest();
const sameSecret = (given: string | undefined, expected: Buffer | null) => expected !== null && given !== undefined && timingSafeEqual(digest(given), expected);

export class PeerChunkServer {
  private readonly frames = new Map<number, Buffer>();
  private readonly held: ChunkSet;
  private cachedBytes = 0;
  private uploads = 0;
  private swarmKey: Buffer | null = null;
  private readonly deviceToken: Buffer | null;
  private server: Server | null = null;
  /** Compressed bytes sent to peers. */
  bytesServed = 0;
  /** Requests turned away because every upload slot was taken. */
  busyRefusals = 0;

  constructor(private readonly options: PeerChunkServerOptions) {
    this.held = new ChunkSet(options.chunkCount);
    this.deviceToken = options.deviceToken ? digest(options.deviceToken) : null;
  }

  async listen(): Promise<number> {
    const server = createServer((request, response) => this.handle(request, response));
    // A peer that stops reading must not hold an upload slot for long.
    server.setTimeout(15_000, (socket) => socket.destroy());
    server.keepAliveTimeout = 5000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, this.options.host ?? '0.0.0.0', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  /** The key the server handed out; requests without it are refused. */
  setSwarmKey(key: string): void {
    this.swarmKey = key ? digest(key) : null;
  }

  /**
   * Keeps a checked chunk for serving. When the cache is full, chunks that more peers hold make room for one fewer
   * peers hold (`holders` says how many hold each): a swarm whose devices all kept their first chunks would leave the
   * last ones to the few that happen to have room, and every device would queue at their doors.
   */
  keep(index: number, frame: Buffer, holders: (index: number) => number = () => 0): void {
    if (this.held.has(index) || frame.length > this.options.cacheBytes) return;
    const rarity = holders(index);
    while (this.cachedBytes + frame.length > this.options.cacheBytes) {
      let commonest = -1;
      for (const cached of this.frames.keys()) if (commonest < 0 || holders(cached) > holders(commonest)) commonest = cached;
      if (commonest < 0 || holders(commonest) <= rarity) return;
      this.cachedBytes -= this.frames.get(commonest)!.length;
      this.frames.delete(commonest);
      this.held.delete(commonest);
    }
    this.frames.set(index, frame);
    this.held.add(index);
    this.cachedBytes += frame.length;
  }

  /** The chunks it can serve. */
  get have(): ChunkSet {
    return this.held;
  }

  get activeUploads(): number {
    return this.uploads;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    this.frames.clear();
  }

  /** What it holds now, for the asker to go by rather than by the last announce answer. */
  private holdingHeader(): Record<string, string> {
    const text = this.held.encode();
    return text.length <= PEER_HAVE_HEADER_MAX_LENGTH ? { [PEER_HAVE_HEADER]: text } : {};
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const refuse = (status: number, message: string, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
      response.end(`${message}\n`);
    };
    const match = PEER_CHUNK_PATH_PATTERN.exec(request.url ?? '');
    if (request.method !== 'GET' || !match) return refuse(404, 'not a chunk of this device');
    const keyHeader = request.headers[SWARM_KEY_HEADER];
    if (!sameSecret(typeof keyHeader === 'string' ? keyHeader : undefined, this.swarmKey)) return refuse(403, 'wrong or missing swarm key');
    if (this.deviceToken) {
      const auth = request.headers.authorization;
      const bearer = typeof auth === 'string' && /^bearer /i.test(auth) ? auth.slice(7).trim() : undefined;
      const header = request.headers['x-device-token'];
      if (!sameSecret(bearer ?? (typeof header === 'string' ? header.trim() : undefined), this.deviceToken)) return refuse(401, 'device token required');
    }
    const index = Number(match[2]);
    const holding = this.holdingHeader();
    const frame = match[1] === this.options.imageSha256 ? this.frames.get(index) : undefined;
    if (!frame) return refuse(404, 'chunk not held', holding);
    if (this.uploads >= (this.options.maxUploads ?? PEER_MAX_UPLOADS)) {
      this.busyRefusals++;
      return refuse(503, 'busy', { 'retry-after': '1', ...holding });
    }
    this.uploads++;
    let body = frame;
    if (this.options.corruptServed) {
      body = Buffer.from(frame);
      body[body.length >> 1]! ^= 0x01;
    }
    response.once('close', () => this.uploads--);
    response.writeHead(200, { 'content-type': 'application/zstd', 'content-length': String(body.length), ...holding });
    response.end(body, () => (this.bytesServed += body.length));
  }
}

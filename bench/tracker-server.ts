// For the one-to-many benchmark: the .torrent maker (bencode, SHA-1 piece hashes) and a small HTTP server run in
// the server namespace as a process of its own, which is at once a minimal BitTorrent tracker (GET /announce,
// compact peer lists, BEP 23), a web seed (BEP 19 url-list: the file itself under /file/<name>, with Range) and so a
// plain HTTP file server for the unicast baseline. Asked `stats` on stdin it prints one JSON line: the announces,
// the peers it knows, and the bytes it wrote into connections that asked for the file. It exits when its stdin closes.
// Run as `node --import tsx bench/tracker-server.ts --serve '{…}'` this file is that server.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export type Bencodable = number | string | Buffer | Bencodable[] | { [key: string]: Bencodable };

export function bencode(value: Bencodable): Buffer {
  const parts: Buffer[] = [];
  const write = (item: Bencodable): void => {
    if (typeof item === 'number') {
      if (!Number.isSafeInteger(item)) throw new Error(`bencode: ${item} is not an integer`);
      parts.push(Buffer.from(`i${item}e`));
    } else if (typeof item === 'string' || Buffer.isBuffer(item)) {
      const bytes = typeof item === 'string' ? Buffer.from(item) : item;
      parts.push(Buffer.from(`${bytes.length}:`), bytes);
    } else if (Array.isArray(item)) {
      parts.push(Buffer.from('l'));
      item.forEach(write);
      parts.push(Buffer.from('e'));
    } else {
      // Keys in the order of their raw bytes, as BEP 3 requires (the info hash depends on it).
      parts.push(Buffer.from('d'));
      for (const key of Object.keys(item).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) {
        write(key);
        write(item[key]!);
      }
      parts.push(Buffer.from('e'));
    }
  };
  write(value);
  return Buffer.concat(parts);
}

export interface Torrent {
  /** The .torrent file's bytes. */
  data: Buffer;
  infoHash: Buffer;
  pieces: number;
}

/** A single-file torrent of `file`: its pieces hashed with SHA-1, announced to `announce`, with a web seed if given. */
export async function makeTorrent(file: string, options: { announce: string; pieceLength: number; webSeed?: string }): Promise<Torrent> {
  const size = statSync(file).size;
  const hashes: Buffer[] = [];
  const handle = await open(file, 'r');
  try {
    const piece = Buffer.allocUnsafe(options.pieceLength);
    for (let offset = 0; offset < size; offset += options.pieceLength) {
      const length = Math.min(options.pieceLength, size - offset);
      for (let read = 0; read < length; ) {
        const { bytesRead } = await handle.read(piece, read, length - read, offset + read);
        if (bytesRead === 0) throw new Error(`${file} shrank while it was hashed`);
        read += bytesRead;
      }
      hashes.push(createHash('sha1').update(piece.subarray(0, length)).digest());
    }
  } finally {
    await handle.close();
  }
  const info = { length: size, name: basename(file), 'piece length': options.pieceLength, pieces: Buffer.concat(hashes) };
  const torrent: Record<string, Bencodable> = { announce: options.announce, info };
  if (options.webSeed) torrent['url-list'] = [options.webSeed];
  return { data: bencode(torrent), infoHash: createHash('sha1').update(bencode(info)).digest(), pieces: hashes.length };
}

export interface ServerStats {
  announces: number;
  /** Peers of the swarm the tracker knows, and how many of them said they had everything (left=0). */
  peers: number;
  seeders: number;
  /** Bytes written into connections that asked for the file (headers included; some may never have left the socket). */
  fileBytesWritten: number;
  fileRequests: number;
}

interface ServeArgs {
  file: string;
  host: string;
  port: number;
  /** Announce interval told to the clients, s. */
  interval: number;
}

interface Peer {
  ip: string;
  port: number;
  left: number;
  seenMs: number;
}

/** A query string's values as raw bytes: info_hash and peer_id are binary, percent-encoded byte by byte. */
function rawQuery(query: string): Map<string, Buffer> {
  const values = new Map<string, Buffer>();
  for (const pair of query.split('&')) {
    if (!pair) continue;
    const equals = pair.indexOf('=');
    const key = equals < 0 ? pair : pair.slice(0, equals);
    const text = equals < 0 ? '' : pair.slice(equals + 1);
    const bytes: number[] = [];
    for (let i = 0; i < text.length; i++) {
      if (text[i] === '%' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
        bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
        i += 2;
      } else {
        bytes.push(text[i] === '+' ? 0x20 : text.charCodeAt(i) & 0xff);
      }
    }
    values.set(decodeURIComponent(key), Buffer.from(bytes));
  }
  return values;
}

async function serve(): Promise<void> {
  const args = JSON.parse(process.argv[process.argv.indexOf('--serve') + 1]!) as ServeArgs;
  const size = statSync(args.file).size;
  const filePath = `/file/${encodeURIComponent(basename(args.file))}`;
  const swarms = new Map<string, Map<string, Peer>>();
  let announces = 0;
  let fileRequests = 0;
  let fileBytesClosed = 0;
  const fileSockets = new Set<Socket>();
  const addressOf = (socket: Socket) => (socket.remoteAddress ?? '?').replace(/^::ffff:/, '');

  const announce = (req: IncomingMessage, res: ServerResponse, query: string) => {
    announces++;
    const values = rawQuery(query);
    const infoHash = values.get('info_hash');
    const port = Number(values.get('port')?.toString());
    const reply = (body: Record<string, Bencodable>) => res.writeHead(200, { 'Content-Type': 'text/plain' }).end(bencode(body));
    if (!infoHash || infoHash.length !== 20 || !(port > 0 && port < 65536)) return reply({ 'failure reason': 'info_hash and port are required' });
    const ip = addressOf(req.socket);
    const swarm = swarms.get(infoHash.toString('hex')) ?? new Map<string, Peer>();
    swarms.set(infoHash.toString('hex'), swarm);
    const id = `${ip}:${port}`;
    const now = Date.now();
    if (values.get('event')?.toString() === 'stopped') swarm.delete(id);
    else swarm.set(id, { ip, port, left: Number(values.get('left')?.toString() ?? 0), seenMs: now });
    // Peers silent for three intervals are gone; the asker is never told about itself.
    for (const [key, peer] of swarm) if (now - peer.seenMs > 3 * args.interval * 1000) swarm.delete(key);
    const others = [...swarm.values()].filter((peer) => `${peer.ip}:${peer.port}` !== id && /^\d+\.\d+\.\d+\.\d+$/.test(peer.ip));
    for (let i = others.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [others[i], others[j]] = [others[j]!, others[i]!];
    }
    const wanted = Number(values.get('numwant')?.toString() ?? 50);
    const peers = others.slice(0, Number.isInteger(wanted) && wanted >= 0 ? wanted : 50).map((peer) => {
      const entry = Buffer.alloc(6);
      peer.ip.split('.').forEach((octet, i) => entry.writeUInt8(Number(octet), i));
      entry.writeUInt16BE(peer.port, 4);
      return entry;
    });
    const seeders = [...swarm.values()].filter((peer) => peer.left === 0).length;
    reply({ complete: seeders, incomplete: swarm.size - seeders, interval: args.interval, 'min interval': 1, peers: Buffer.concat(peers) });
  };

  const sendFile = (req: IncomingMessage, res: ServerResponse) => {
    fileRequests++;
    fileSockets.add(req.socket);
    let start = 0;
    let end = size - 1;
    const range = req.headers.range;
    if (range !== undefined) {
      const match = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      if (match && match[1] !== '') {
        start = Number(match[1]);
        if (match[2] !== '') end = Math.min(Number(match[2]), size - 1);
      } else if (match && match[2] !== '') {
        start = Math.max(0, size - Number(match[2]));
      }
      if (!match || (match[1] === '' && match[2] === '') || start > end) {
        res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
        return;
      }
    }
    res.writeHead(range === undefined ? 200 : 206, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': end - start + 1,
      'Accept-Ranges': 'bytes',
      ...(range === undefined ? {} : { 'Content-Range': `bytes ${start}-${end}/${size}` }),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = createReadStream(args.file, { start, end, highWaterMark: 1 << 20 });
    res.on('close', () => stream.destroy());
    stream.pipe(res);
  };

  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const question = url.indexOf('?');
    const path = question < 0 ? url : url.slice(0, question);
    if (path === '/announce' && req.method === 'GET') announce(req, res, question < 0 ? '' : url.slice(question + 1));
    else if (path === filePath && (req.method === 'GET' || req.method === 'HEAD')) sendFile(req, res);
    else res.writeHead(404).end();
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (socket: Socket) => {
    socket.on('close', () => {
      if (fileSockets.delete(socket)) fileBytesClosed += socket.bytesWritten;
    });
  });
  server.listen(args.port, args.host);
  await once(server, 'listening');

  const stats = (): ServerStats => {
    const fileBytesWritten = [...fileSockets].reduce((sum, socket) => sum + socket.bytesWritten, fileBytesClosed);
    const peers = [...swarms.values()].flatMap((swarm) => [...swarm.values()]);
    return { announces, peers: peers.length, seeders: peers.filter((peer) => peer.left === 0).length, fileBytesWritten, fileRequests };
  };
  createInterface({ input: process.stdin })
    .on('line', (line) => {
      if (line.trim() === 'stats') process.stdout.write(`${JSON.stringify(stats())}\n`);
    })
    .on('close', () => process.exit(0));
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
}

export interface TrackerServer {
  pid: number;
  /** The web seed's (and unicast baseline's) address of the file. */
  fileUrl: string;
  announceUrl: string;
  stats(): Promise<ServerStats>;
  stop(): Promise<void>;
}

/** Starts the server in namespace `ns` (through `ip netns exec`), listening on host:port; resolves once it listens. */
export async function startTrackerServer(ns: string, args: ServeArgs): Promise<TrackerServer> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), '--serve', JSON.stringify(args)], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const waiting: Array<(line: string) => void> = [];
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => waiting.shift()?.(line));
  const nextLine = (timeoutMs: number) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the tracker server did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
      const exited = () => reject(new Error(`the tracker server stopped (exit ${String(child.exitCode)})`));
      child.once('exit', exited);
      waiting.push((line) => {
        clearTimeout(timer);
        child.off('exit', exited);
        resolve(line);
      });
    });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await once(child, 'exit');
    clearTimeout(timer);
  };
  try {
    await nextLine(30_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  const origin = `http://${args.host}:${args.port}`;
  return {
    pid: child.pid!,
    fileUrl: `${origin}/file/${encodeURIComponent(basename(args.file))}`,
    announceUrl: `${origin}/announce`,
    async stats() {
      const answer = nextLine(10_000);
      child.stdin.write('stats\n');
      return JSON.parse(await answer) as ServerStats;
    },
    stop,
  };
}

if (process.argv.includes('--serve') && process.argv[1] === fileURLToPath(import.meta.url)) await serve();

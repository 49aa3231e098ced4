// A loopback TCP proxy in front of the real server that can drop an image download mid-way, the way a pulled
// cable or a rebooting switch would: the installer must resume with Range and still verify.
import { createServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface CutProxy {
  url: string;
  /**
   * Drop the next image download after this many bytes of its response; `matching` picks which request line
   * counts (default: any GET below /images/, e.g. /^GET \/images\/.*\.chunks\// for an image delivery v2 chunk).
   */
  cutNextImageDownloadAfter(bytes: number, matching?: RegExp): void;
  /** Image downloads dropped so far. */
  readonly cuts: number;
  /** Request lines seen, in order ("GET /images/x.img", "POST /api/config", …). */
  readonly requests: string[];
  close(): Promise<void>;
}

export async function startCutProxy(upstream: string): Promise<CutProxy> {
  const target = new URL(upstream);
  const sockets = new Set<Socket>();
  let cutAfter: number | null = null;
  let cutMatching = /^GET \/images\//;
  const state = { cuts: 0, requests: [] as string[] };

  const server = createServer((client) => {
    const server = connect(Number(target.port), target.hostname);
    sockets.add(client).add(server);
    let armed: number | null = null;
    let delivered = 0;
    client.on('data', (chunk: Buffer) => {
      // Every request, also the later ones on a kept-alive connection: each arrives once the answer before it has.
      const line = /^([A-Z]+ \S+) HTTP\/1\.[01]\r\n/.exec(chunk.toString('latin1', 0, Math.min(chunk.length, 2048)));
      if (line) {
        const request = line[1]!;
        state.requests.push(request);
        if (cutAfter !== null && cutMatching.test(request)) {
          armed = delivered + cutAfter;
          cutAfter = null;
        }
      }
      server.write(chunk);
    });
    server.on('data', (chunk: Buffer) => {
      if (armed !== null && delivered + chunk.length >= armed) {
        client.write(chunk.subarray(0, armed - delivered));
        state.cuts++;
        // Drop both sides at once, like a dead link: no FIN handshake to wait for.
        client.resetAndDestroy();
        server.destroy();
        armed = null;
        return;
      }
      delivered += chunk.length;
      // Back-pressure: the installer writes to disk more slowly than loopback delivers.
      if (!client.write(chunk)) {
        server.pause();
        client.once('drain', () => server.resume());
      }
    });
    // Half-closes pass through, so bytes still buffered for the client are delivered before its FIN.
    server.on('end', () => client.end());
    client.on('end', () => server.end());
    const destroyBoth = () => {
      client.destroy();
      server.destroy();
    };
    client.on('error', destroyBoth);
    server.on('error', destroyBoth);
    client.on('close', () => sockets.delete(client));
    server.on('close', () => sockets.delete(server));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    cutNextImageDownloadAfter: (bytes, matching = /^GET \/images\//) => {
      cutAfter = bytes;
      cutMatching = matching;
    },
    get cuts() {
      return state.cuts;
    },
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

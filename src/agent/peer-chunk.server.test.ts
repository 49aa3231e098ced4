// A device's chunk server: serves only what it holds, only to holders of the swarm key (and the device token where
// there is one), a few peers at a time, from a cache of bounded size.
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ChunkSet, PEER_HAVE_HEADER, peerChunkPath, SWARM_KEY_HEADER } from '../contracts/peer-delivery.js';
import { PeerChunkServer } from './peer-chunk.server.js';

const SHA = 'a'.repeat(64);
const KEY = 'swarm-key-of-this-test';

interface Answer {
  status: number;
  body: Buffer;
  /** The chunks the server says it holds now (PEER_HAVE_HEADER), decoded. */
  holds: number[] | null;
}

const holdsOf = (header: string | string[] | undefined): number[] | null => {
  const set = typeof header === 'string' ? ChunkSet.decode(header, 10) : null;
  return set ? Array.from({ length: 10 }, (_, i) => i).filter((i) => set.has(i)) : null;
};

/** A GET that reads its body only when told to, so a test can hold an upload slot open. */
function get(port: number, path: string, headers: Record<string, string>, options: { hold?: boolean } = {}): Promise<Answer & { release: () => void }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      const holds = holdsOf(res.headers[PEER_HAVE_HEADER]);
      const done = () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), holds, release: () => res.destroy() });
      if (options.hold) {
        res.pause();
        resolve({ status: res.statusCode ?? 0, body: Buffer.alloc(0), holds, release: () => res.destroy() });
        return;
      }
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', done);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('PeerChunkServer', () => {
  let server: PeerChunkServer | null = null;
  afterEach(async () => {
    await server?.close();
    server = null;
  });

  const start = async (options: Partial<ConstructorParameters<typeof PeerChunkServer>[0]> = {}) => {
    server = new PeerChunkServer({ imageSha256: SHA, chunkCount: 10, cacheBytes: 1 << 20, host: '127.0.0.1', ...options });
    const port = await server.listen();
    server.setSwarmKey(KEY);
    return port;
  };

  it('serves a held chunk byte for byte to a request with the swarm key, and counts it', async () => {
    const port = await start();
    const frame = Buffer.from('a zstd frame, as received');
    server!.keep(3, frame);
    const answer = await get(port, peerChunkPath(SHA, 3), { [SWARM_KEY_HEADER]: KEY });
    expect(answer.status).toBe(200);
    expect(answer.body.equals(frame)).toBe(true);
    expect(answer.holds).toEqual([3]);
    await expect.poll(() => server!.bytesServed).toBe(frame.length);
    expect(server!.have.has(3)).toBe(true);
    expect(server!.have.count()).toBe(1);
  });

  it('refuses requests without the key, with a wrong key, for chunks it does not hold, and for other images', async () => {
    const port = await start();
    server!.keep(1, Buffer.from('frame'));
    // Without the key, not even what it holds.
    expect(await get(port, peerChunkPath(SHA, 1), {})).toMatchObject({ status: 403, holds: null });
    expect((await get(port, peerChunkPath(SHA, 1), { [SWARM_KEY_HEADER]: 'not-the-key' })).status).toBe(403);
    // A chunk it does not hold (its cache let it go): the answer says what it holds instead.
    expect(await get(port, peerChunkPath(SHA, 2), { [SWARM_KEY_HEADER]: KEY })).toMatchObject({ status: 404, holds: [1] });
    expect((await get(port, peerChunkPath('b'.repeat(64), 1), { [SWARM_KEY_HEADER]: KEY })).status).toBe(404);
    expect((await get(port, '/peer/v1/chunks/../../etc/passwd', { [SWARM_KEY_HEADER]: KEY })).status).toBe(404);
    expect(server!.bytesServed).toBe(0);
  });

  it('requires the device token of the deployment network too, where there is one', async () => {
    const port = await start({ deviceToken: 'network-secret' });
    server!.keep(0, Buffer.from('frame'));
    expect((await get(port, peerChunkPath(SHA, 0), { [SWARM_KEY_HEADER]: KEY })).status).toBe(401);
    expect((await get(port, peerChunkPath(SHA, 0), { [SWARM_KEY_HEADER]: KEY, 'x-device-token': 'wrong' })).status).toBe(401);
    expect((await get(port, peerChunkPath(SHA, 0), { [SWARM_KEY_HEADER]: KEY, authorization: 'Bearer network-secret' })).status).toBe(200);
    expect((await get(port, peerChunkPath(SHA, 0), { [SWARM_KEY_HEADER]: KEY, 'x-device-token': 'network-secret' })).status).toBe(200);
  });

  it('serves at most its upload slots at once; the next peer is told it is busy, and a freed slot serves again', async () => {
    const port = await start({ maxUploads: 2, cacheBytes: 64 << 20 });
    // Far larger than loopback's socket buffers, so an unread response is still being sent and keeps its slot.
    server!.keep(0, Buffer.alloc(32 << 20, 1));
    const headers = { [SWARM_KEY_HEADER]: KEY };
    const first = await get(port, peerChunkPath(SHA, 0), headers, { hold: true });
    const second = await get(port, peerChunkPath(SHA, 0), headers, { hold: true });
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(server!.activeUploads).toBe(2);
    const third = await get(port, peerChunkPath(SHA, 0), headers);
    expect(third).toMatchObject({ status: 503, holds: [0] });
    expect(server!.busyRefusals).toBe(1);
    first.release();
    await expect.poll(() => server!.activeUploads).toBe(1);
    expect((await get(port, peerChunkPath(SHA, 0), headers)).status).toBe(200);
    second.release();
  });

  it('when full, makes room for a chunk fewer peers hold by dropping the one most hold, never the other way round', async () => {
    await start({ cacheBytes: 12 });
    const holders = [5, 1, 3, 0, 9];
    const keep = (i: number) => server!.keep(i, Buffer.alloc(6), (n) => holders[n]!);
    keep(0);
    keep(1);
    keep(2); // held by 3, the cache holds chunks held by 5 and 1: 0 goes
    expect([0, 1, 2].map((i) => server!.have.has(i))).toEqual([false, true, true]);
    keep(4); // held by 9: more common than anything cached, not kept
    expect(server!.have.has(4)).toBe(false);
    keep(3); // held by nobody: 2 (held by 3) goes
    expect([1, 2, 3].map((i) => server!.have.has(i))).toEqual([true, false, true]);
  });

  it('keeps chunks only while the cache has room, and only once each', async () => {
    await start({ cacheBytes: 10 });
    server!.keep(0, Buffer.alloc(6));
    server!.keep(0, Buffer.alloc(6));
    server!.keep(1, Buffer.alloc(6));
    server!.keep(2, Buffer.alloc(4));
    expect([0, 1, 2].map((i) => server!.have.has(i))).toEqual([true, false, true]);
  });

  it('with the fault injected, serves every chunk with a bit flipped', async () => {
    const port = await start({ corruptServed: true });
    const frame = Buffer.alloc(64, 0);
    server!.keep(5, frame);
    const answer = await get(port, peerChunkPath(SHA, 5), { [SWARM_KEY_HEADER]: KEY });
    expect(answer.status).toBe(200);
    expect(answer.body.length).toBe(64);
    expect(answer.body.equals(frame)).toBe(false);
  });
});

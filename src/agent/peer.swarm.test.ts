import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ImageManifest } from '../contracts/image-delivery.js';
import { ChunkSet, type PeerAnnounceResponse } from '../contracts/peer-delivery.js';
import { PEER_WAIT_MS, PeerSwarm } from './peer.swarm.js';

const CHUNKS = 4;
const manifest = {
  format: 'pitcrew-chunked-image/1',
  image_sha256: 'a'.repeat(64),
  image_size: CHUNKS * 4096,
  block_map: 'whole',
  mapped_bytes: CHUNKS * 4096,
  compressed_bytes: CHUNKS * 100,
  compression: 'zstd',
  chunk_url: 'chunks',
  chunks: Array.from({ length: CHUNKS }, (_, i) => ({ offset: i * 4096, raw_length: 4096, compressed_length: 100, sha256: 'b'.repeat(64) })),
} as unknown as ImageManifest;

let announceServer: Server | null = null;
let swarm: PeerSwarm | null = null;
afterEach(async () => {
  vi.useRealTimers();
  await swarm?.leave();
  await new Promise((resolve) => (announceServer ? announceServer.close(resolve) : resolve(undefined)));
  swarm = announceServer = null;
});

/** A server whose every announce answer lists one peer holding every chunk, and hands out nothing. */
async function joinWithOnePeerHoldingAll(): Promise<PeerSwarm> {
  const all = new ChunkSet(CHUNKS);
  for (let i = 0; i < CHUNKS; i++) all.add(i);
  const answer: PeerAnnounceResponse = {
    enabled: true,
    reason: null,
    swarm_key: 'key',
    interval_ms: 60_000,
    peers: [{ deployment_id: 2, url: 'http://127.0.0.1:9/', have: all.encode() }],
    seeding: new ChunkSet(CHUNKS).encode(),
    fetch_from_server: [],
    linger: false,
  };
  announceServer = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer)));
  });
  await new Promise<void>((resolve) => announceServer!.listen(0, '127.0.0.1', resolve));
  const { port } = announceServer.address() as AddressInfo;
  const joined = await PeerSwarm.join({ announceUrl: `http://127.0.0.1:${port}/api/peers/announce`, deploymentId: 1, deploymentToken: null, manifest, cacheBytes: 1 << 20, host: '127.0.0.1' });
  if (!joined) throw new Error('the swarm did not start');
  return joined;
}

describe('choosing where chunks come from', () => {
  it('stops asking a peer for a chunk it said it no longer holds, and asks it for the others at once', async () => {
    swarm = await joinWithOnePeerHoldingAll();
    const pending = new Set([0, 1]);
    const first = swarm.pick(pending)!;
    expect(first.peer).toMatchObject({ deploymentId: 2 });
    // The peer's cache let that chunk go after its last announce: it answered 404.
    swarm.peerDone(first.peer!, 'missing', first.index, 'HTTP 404');
    const next = swarm.pick(pending)!;
    expect(next).toMatchObject({ index: first.index === 0 ? 1 : 0, peer: { deploymentId: 2 } });
    swarm.peerDone(next.peer!, 'busy', next.index, 'HTTP 503');
    // A busy peer rests a moment, whatever it holds.
    expect(swarm.pick(pending)).toBeUndefined();
    expect(swarm.describeTransfers()).toMatch(/peers busy 1 time\(s\) \(HTTP 503 ×1\), no longer holding the chunk 1, out of reach 0/);
  });

  it('goes by what a peer\'s own answer says it holds, until the next announce answer', async () => {
    swarm = await joinWithOnePeerHoldingAll();
    const pending = new Set([0, 1, 2, 3]);
    const asked = swarm.pick(pending)!;
    // Its answer (busy, here) says it now holds chunk 2 alone.
    const onlyTwo = new ChunkSet(CHUNKS);
    onlyTwo.add(2);
    swarm.peerHolds(asked.peer!, onlyTwo.encode());
    swarm.peerDone(asked.peer!, 'ok', asked.index);
    expect(swarm.pick(pending)).toMatchObject({ index: 2, peer: { deploymentId: 2 } });
    // A bitfield of another length is not this image's: ignored.
    swarm.peerHolds(asked.peer!, Buffer.alloc(3).toString('base64'));
    swarm.peerDone(asked.peer!, 'ok', 2);
    expect(swarm.pick(new Set([0, 1, 3]))).toBeUndefined();
  });
});

describe('a server that has not answered an announce yet', () => {
  it('is no sign of an isolated network: the device waits, then takes one chunk at a time from the server', async () => {
    // A crowd of devices starting at once: the server is too busy to answer announces for now.
    announceServer = createServer((request, response) => {
      request.resume();
      request.on('end', () => response.writeHead(503).end('busy'));
    });
    await new Promise<void>((resolve) => announceServer!.listen(0, '127.0.0.1', resolve));
    const { port } = announceServer.address() as AddressInfo;
    swarm = await PeerSwarm.join({ announceUrl: `http://127.0.0.1:${port}/api/peers/announce`, deploymentId: 1, deploymentToken: null, manifest, cacheBytes: 1 << 20, host: '127.0.0.1' });
    expect(swarm).not.toBeNull();
    vi.useFakeTimers({ toFake: ['performance'] });
    const pending = new Set([0, 1, 2, 3]);
    expect(swarm!.pick(pending)).toBeUndefined();
    vi.advanceTimersByTime(PEER_WAIT_MS);
    const fromServer = swarm!.pick(pending)!;
    expect(fromServer.peer).toBeNull();
    pending.delete(fromServer.index);
    // One at a time: the next waits for that one to end, as with busy peers.
    expect(swarm!.pick(pending)).toBeUndefined();
    swarm!.serverDone();
    expect(swarm!.pick(pending)).toMatchObject({ peer: null });
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ImageManifest } from '../contracts/image-delivery.js';
import { ChunkSet, type PeerAnnounce, type PeerAnnounceResponse } from '../contracts/peer-delivery.js';
import { PEER_WAIT_MS, PeerSwarm, STARVED_LIMIT_MS } from './peer.swarm.js';

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

/** The announces the fake server received. */
let announces: PeerAnnounce[] = [];

/**
 * Joins a swarm whose server answers every announce with `fields` over a default that lists nobody and hands out
 * nothing, and with what `respond` makes of the announce.
 */
async function joinAnswering(fields: Partial<PeerAnnounceResponse>, respond?: (announce: PeerAnnounce) => Partial<PeerAnnounceResponse>): Promise<PeerSwarm> {
  announces = [];
  const answer: PeerAnnounceResponse = {
    enabled: true,
    reason: null,
    swarm_key: 'key',
    interval_ms: 60_000,
    peers: [],
    seeding: new ChunkSet(CHUNKS).encode(),
    fetch_from_server: [],
    linger: false,
    ...fields,
  };
  announceServer = createServer((request, response) => {
    const body: Buffer[] = [];
    request.on('data', (piece: Buffer) => body.push(piece));
    request.on('end', () => {
      const announce = JSON.parse(Buffer.concat(body).toString()) as PeerAnnounce;
      announces.push(announce);
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...answer, ...respond?.(announce) }));
    });
  });
  await new Promise<void>((resolve) => announceServer!.listen(0, '127.0.0.1', resolve));
  const { port } = announceServer.address() as AddressInfo;
  const joined = await PeerSwarm.join({ announceUrl: `http://127.0.0.1:${port}/api/peers/announce`, deploymentId: 1, deploymentToken: null, manifest, cacheBytes: 1 << 20, host: '127.0.0.1' });
  if (!joined) throw new Error('the swarm did not start');
  return joined;
}

const chunkSetOf = (indices: Iterable<number>) => ChunkSet.of(CHUNKS, indices).encode();

function joinWithOnePeerHoldingAll(): Promise<PeerSwarm> {
  return joinAnswering({ peers: [{ deployment_id: 2, url: 'http://127.0.0.1:9/', have: chunkSetOf([0, 1, 2, 3]) }], serving_members: 1 });
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
    swarm.peerHolds(asked.peer!, chunkSetOf([2]));
    swarm.peerDone(asked.peer!, 'ok', asked.index);
    expect(swarm.pick(pending)).toMatchObject({ index: 2, peer: { deploymentId: 2 } });
    // A bitfield of another length is not this image's: ignored.
    swarm.peerHolds(asked.peer!, Buffer.alloc(3).toString('base64'));
    swarm.peerDone(asked.peer!, 'ok', 2);
    expect(swarm.pick(new Set([0, 1, 3]))).toBeUndefined();
  });
});

describe('a peer out of reach', () => {
  it('stays out of reach across answers that leave it out of their sample and list it again', async () => {
    let listed = true;
    const peer = { deployment_id: 2, url: 'http://127.0.0.1:9/', have: chunkSetOf([0, 1, 2, 3]) };
    swarm = await joinAnswering({ interval_ms: 100, serving_members: 1 }, () => ({ peers: listed ? [peer] : [] }));
    vi.useFakeTimers({ toFake: ['performance'] });
    const pending = new Set([0, 1, 2, 3]);
    const asked = swarm.pick(pending)!;
    expect(asked.peer).toMatchObject({ deploymentId: 2 });
    swarm.peerDone(asked.peer!, 'unreachable', asked.index, 'connect ECONNREFUSED');
    // An answer applied after each change: announces follow one another, so the second after a change saw it.
    const twoMoreAnswers = async () => {
      const before = announces.length;
      await vi.waitFor(() => expect(announces.length).toBeGreaterThan(before + 1), { timeout: 5000 });
    };
    listed = false;
    await twoMoreAnswers();
    listed = true;
    await twoMoreAnswers();
    expect(swarm.pick(pending)).toBeUndefined();
    vi.advanceTimersByTime(5000);
    expect(swarm.pick(pending)).toMatchObject({ peer: { deploymentId: 2 } });
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
    // One at a time, as with busy peers: the next waits for that one to end, and for as long again.
    expect(swarm!.pick(pending)).toBeUndefined();
    swarm!.serverDone();
    expect(swarm!.pick(pending)).toBeUndefined();
    vi.advanceTimersByTime(PEER_WAIT_MS);
    expect(swarm!.pick(pending)).toMatchObject({ peer: null });
    expect(swarm!.describeTransfers()).toMatch(/\(0 handed out, 0 after starving, 2 with announces unanswered, 0 with no peer to ask\)/);
  });
});

describe('an announce answer that lists no peer', () => {
  const serverPicks = (joined: PeerSwarm) => {
    const pending = new Set([0, 1, 2, 3]);
    expect(joined.pick(pending)).toBeUndefined();
    vi.advanceTimersByTime(PEER_WAIT_MS);
    const picks = [];
    while (pending.size > 0) {
      const pick = joined.pick(pending);
      if (!pick) break;
      expect(pick.peer).toBeNull();
      pending.delete(pick.index);
      picks.push(pick.index);
    }
    return picks;
  };

  it('while other members serve, means nobody holds a chunk yet: the device asks the server for one, and fetches what it is given', async () => {
    swarm = await joinAnswering({ serving_members: 99 }, (announce) => ({ fetch_from_server: announce.starved_for ? [2] : [] }));
    vi.useFakeTimers({ toFake: ['performance'] });
    const pending = new Set([0, 1, 2, 3]);
    expect(serverPicks(swarm)).toEqual([]);
    await vi.waitFor(() => expect(swarm!.pick(pending)).toMatchObject({ index: 2, peer: null }), { timeout: 5000 });
    // Asked once, for every chunk it needed.
    expect(announces.filter((announce) => announce.starved_for).map((announce) => announce.starved_for)).toEqual([chunkSetOf(pending)]);
    expect(swarm.describeTransfers()).toMatch(/\(1 handed out, 0 after starving, 0 with announces unanswered, 0 with no peer to ask\)/);
  });

  it('takes one chunk at a time from the server itself once it has starved for long, the server granting nothing', async () => {
    swarm = await joinAnswering({ serving_members: 99 });
    vi.useFakeTimers({ toFake: ['performance'] });
    const pending = new Set([0, 1, 2, 3]);
    expect(swarm.pick(pending)).toBeUndefined();
    for (let waited = 0; waited < STARVED_LIMIT_MS; waited += PEER_WAIT_MS) {
      vi.advanceTimersByTime(PEER_WAIT_MS);
      const asked = announces.length;
      expect(swarm.pick(pending)).toBeUndefined();
      await vi.waitFor(() => expect(announces.length).toBeGreaterThan(asked), { timeout: 5000 });
    }
    vi.advanceTimersByTime(PEER_WAIT_MS);
    expect(swarm.pick(pending)).toMatchObject({ peer: null });
    expect(swarm.pick(pending)).toBeUndefined();
    expect(swarm.describeTransfers()).toMatch(/\(0 handed out, 1 after starving, 0 with announces unanswered, 0 with no peer to ask\)/);
  });

  it('with nobody else in the swarm, means the device is alone: the server serves every chunk at once', async () => {
    swarm = await joinAnswering({ serving_members: 0 });
    vi.useFakeTimers({ toFake: ['performance'] });
    expect(serverPicks(swarm)).toHaveLength(CHUNKS);
  });

  it('from a server that predates grants (it does not count members), leads to no ask: one chunk at a time from it, as before', async () => {
    swarm = await joinAnswering({ peers: [{ deployment_id: 2, url: 'http://127.0.0.1:9/', have: chunkSetOf([0]) }] });
    vi.useFakeTimers({ toFake: ['performance'] });
    const pending = new Set([1, 2, 3]);
    expect(swarm.pick(pending)).toBeUndefined();
    vi.advanceTimersByTime(PEER_WAIT_MS);
    expect(swarm.pick(pending)).toMatchObject({ peer: null });
    expect(swarm.pick(pending)).toBeUndefined();
    expect(announces.filter((announce) => 'starved_for' in announce)).toEqual([]);
  });

  it('from a server that does not count members, is taken as alone, as before', async () => {
    swarm = await joinAnswering({});
    vi.useFakeTimers({ toFake: ['performance'] });
    expect(serverPicks(swarm)).toHaveLength(CHUNKS);
  });
});

// The server's side of one-to-many delivery: who is handed which chunks, who is listed as a peer, when a finished
// device may stop serving, and what the records say.
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MasterImage } from '../contracts/domain.js';
import {
  ChunkSet,
  MAX_SERVER_COPIES_FOR_STARVED,
  PEER_TTL_MS,
  SERVER_SEEDING_WINDOW_MS,
  SWARM_WARMUP_MS,
  type PeerAnnounce,
} from '../contracts/peer-delivery.js';
import { buildDiskImage } from '../disk-layout/test-support/disk-image.builder.js';
import { createCoreFixture, type CoreFixture } from './test-support/core-fixture.js';

describe('peer swarms', () => {
  let f: CoreFixture;
  let image: MasterImage;
  let chunkCount: number;

  beforeEach(async () => {
    f = createCoreFixture();
    f.core.venues.create({ code: 'SWRM', name: 'Swarm' });
    f.core.pool.importKartNumbers({ venue_code: 'SWRM', numbers: '1-20' });
    const built = await buildDiskImage(f.dir, { flavour: 'rpi-preseed', bootFiles: { 'payload.bin': randomBytes(24 << 20) } });
    image = await f.core.images.registerFile({ product_type: 'KXP2', version: '1.0.0' }, built.path);
    f.core.images.activate(image.id);
    chunkCount = image.delivery!.chunk_count;
  });
  afterEach(() => f.close());

  /** A device asks for its configuration; returns what its announces need. */
  const join = (n: number) => {
    const { deployment, token } = f.core.deployments.requestConfig({ product_type: 'KXP2', venue_code: 'SWRM', serial_number: `10000000swrm${String(n).padStart(4, '0')}` }, `10.42.0.${n}`);
    return { id: deployment.id, token, address: `10.42.0.${n}` };
  };
  type Device = ReturnType<typeof join>;
  const holding = (indices: number[]) => ChunkSet.of(chunkCount, indices).encode();
  const announce = (device: Device, fields: Partial<PeerAnnounce> = {}) =>
    f.core.peers.announce(
      {
        deployment_id: device.id,
        deployment_token: device.token,
        image_sha256: image.sha256,
        port: 40000 + device.id,
        have: holding([]),
        role: 'receiving',
        want: 0,
        bytes_from_peers: 0,
        bytes_from_server: 0,
        bytes_served: 0,
        bad_peers: [],
        ...fields,
      },
      device.address,
    );
  const all = () => [...Array(chunkCount).keys()];

  it('hands each chunk nobody holds to one device at a time, until the seeding window passes without it arriving', () => {
    expect(chunkCount).toBeGreaterThanOrEqual(6);
    const [a, b, c] = [join(1), join(2), join(3)];
    const half = Math.floor(chunkCount / 2);
    // A new swarm first lets every member say what it holds (after a restart, peers hold chunks the server must not resend).
    expect(announce(a, { want: half }).response.fetch_from_server).toEqual([]);
    f.advance(SWARM_WARMUP_MS);
    const toA = announce(a, { want: half }).response.fetch_from_server;
    const toB = announce(b, { want: 16 }).response.fetch_from_server;
    expect(toA).toHaveLength(half);
    expect(new Set([...toA, ...toB]).size).toBe(toA.length + toB.length);
    expect([...toA, ...toB].sort((x, y) => x - y)).toEqual(all());
    // Everything is on its way: nothing more to hand out, and the answer says which chunks are coming.
    const third = announce(c, { want: 16 }).response;
    expect(third.fetch_from_server).toEqual([]);
    expect(ChunkSet.decode(third.seeding, chunkCount)!.count()).toBe(chunkCount);
    // A holds its chunks now; B never fetched its own. Once the window passes, B's are handed out again, A's never.
    announce(a, { have: holding(toA) });
    f.advance(SERVER_SEEDING_WINDOW_MS);
    const again = announce(c, { want: 16 }).response.fetch_from_server;
    expect(again.sort((x, y) => x - y)).toEqual([...toB].sort((x, y) => x - y));
  });

  it('hands a chunk out again later each time it was sent without arriving: a crowded network is slow, not lossy', () => {
    const [a, b] = [join(1), join(2)];
    announce(a);
    announce(b);
    f.advance(SWARM_WARMUP_MS);
    const [chunk] = announce(a, { want: 1 }).response.fetch_from_server;
    const handOut = () => announce(b, { want: 16 }).response.fetch_from_server.includes(chunk!);
    for (const [sends, window] of [
      [1, SERVER_SEEDING_WINDOW_MS],
      [2, 2 * SERVER_SEEDING_WINDOW_MS],
      [3, 4 * SERVER_SEEDING_WINDOW_MS],
    ]) {
      f.core.peers.noteServerSend(image.sha256, chunk!, b.id);
      f.advance(window! - 1);
      announce(a);
      expect(handOut(), `sent ${sends} time(s)`).toBe(false);
      f.advance(1);
      expect(handOut(), `sent ${sends} time(s)`).toBe(true);
    }
  });

  it('hands a starving device one chunk it needs, the one fewest hold, while the server has sent it only once', () => {
    expect(MAX_SERVER_COPIES_FOR_STARVED).toBe(2);
    const [a, b, e, c, d] = [join(1), join(2), join(5), join(3), join(4)];
    const last = chunkCount - 1;
    // Every chunk but the last is held; of chunks 1–4, chunk 4 by one member only.
    const holdersAnnounce = () => {
      announce(a, { have: holding(all().slice(0, last)) });
      announce(b, { have: holding([1, 2, 3]) });
      announce(e, { have: holding([2, 3]) });
    };
    holdersAnnounce();
    f.advance(SWARM_WARMUP_MS);
    // Starving for chunks 1–4: not handed the last chunk (nobody holds it, but it does not need it), but chunk 4.
    expect(announce(c, { want: 16, starved_for: holding([1, 2, 3, 4]) }).response.fetch_from_server).toEqual([4]);
    // Handed out just now: on its way into the swarm, not handed out again at once.
    expect(announce(d, { want: 16, starved_for: holding([4]) }).response.fetch_from_server).toEqual([]);
    f.core.peers.noteServerSend(image.sha256, 4, c.id);
    // Sends to devices outside the swarm (or unnamed) are not the swarm's copies.
    f.core.peers.noteServerSend(image.sha256, 4, 9999);
    f.core.peers.noteServerSend(image.sha256, 4, null);
    f.advance(SERVER_SEEDING_WINDOW_MS);
    holdersAnnounce();
    // Sent once: a second copy for another starving device; sent twice: the peers serve it.
    expect(announce(d, { want: 16, starved_for: holding([4]) }).response.fetch_from_server).toEqual([4]);
    f.core.peers.noteServerSend(image.sha256, 4, d.id);
    f.advance(SERVER_SEEDING_WINDOW_MS);
    holdersAnnounce();
    expect(announce(d, { want: 16, starved_for: holding([4]) }).response.fetch_from_server).toEqual([]);
    // Nor a chunk the device itself holds.
    expect(announce(b, { want: 16, have: holding([1, 2, 3]), starved_for: holding([1]) }).response.fetch_from_server).toEqual([]);
  });

  it('lists other serving members with what they hold, at the address the server sees them, never the device itself', () => {
    const [a, b] = [join(1), join(2)];
    announce(a, { have: holding([0, 1]) });
    const answer = announce(b).response;
    expect(answer).toMatchObject({ enabled: true, reason: null, linger: false });
    expect(answer.swarm_key.length).toBeGreaterThanOrEqual(16);
    expect(answer.peers).toEqual([{ deployment_id: a.id, url: `http://10.42.0.1:${40000 + a.id}`, have: holding([0, 1]) }]);
    // b holds nothing yet: not listed, but counted, so a knows it is not alone.
    expect(announce(a).response).toMatchObject({ peers: [], serving_members: 1 });
    // A member that serves nothing (no port) is no peer, and what it holds is handed out by the server.
    announce(a, { have: holding(all()), port: null });
    f.advance(SWARM_WARMUP_MS);
    expect(announce(b).response).toMatchObject({ peers: [], serving_members: 0 });
    expect(announce(b, { want: 16 }).response.fetch_from_server.length).toBeGreaterThan(0);
  });

  it('stops handing out a member reported for bad data, and its chunks count as held by nobody', () => {
    const [cheat, honest] = [join(1), join(2)];
    announce(cheat, { have: holding(all()) });
    f.advance(SWARM_WARMUP_MS);
    expect(announce(honest).response.peers.map((p) => p.deployment_id)).toEqual([cheat.id]);
    const outcome = announce(honest, { bad_peers: [{ deployment_id: cheat.id, chunk: 2, reason: 'hash mismatch' }], want: 16 });
    expect(outcome.badPeers).toEqual([{ reporter: honest.id, peer: cheat.id, chunk: 2, reason: 'hash mismatch' }]);
    expect(outcome.response.peers).toEqual([]);
    expect(outcome.response.fetch_from_server.length).toBeGreaterThan(0);
    // Its own announces go on (it installs), but it is never listed again, and a second report is not news.
    announce(cheat, { have: holding(all()) });
    expect(announce(honest).response.peers).toEqual([]);
    expect(announce(honest, { bad_peers: [{ deployment_id: cheat.id, chunk: 3, reason: 'again' }] }).badPeers).toEqual([]);
    expect(f.core.peers.membersOf(image.sha256).find((m) => m.deployment_id === cheat.id)?.url).toBeNull();
  });

  it('drops members that stopped announcing, and records them as done', () => {
    const [a, b] = [join(1), join(2)];
    announce(a, { have: holding([0]) });
    expect(f.core.deployments.get(a.id).delivery_role).toBe('receiving');
    f.advance(PEER_TTL_MS + 1);
    expect(announce(b).response.peers).toEqual([]);
    expect(f.core.deployments.get(a.id).delivery_role).toBe('done');
    expect(f.core.peers.membersOf(image.sha256).map((m) => m.deployment_id)).toEqual([b.id]);
  });

  it('closes, on its periodic pass, the roles of the last member of a swarm and of records no swarm knows (a restart)', () => {
    const [a, b] = [join(1), join(2)];
    announce(a, { role: 'serving', have: holding(all()) });
    f.advance(PEER_TTL_MS + 1);
    expect(f.core.peers.expireSilent()).toBe(0); // a was a member: closed as it expired
    expect(f.core.deployments.get(a.id).delivery_role).toBe('done');
    expect(f.core.peers.membersOf(image.sha256)).toEqual([]);
    // A record that says receiving, from before a restart: no swarm in memory knows it.
    f.db.prepare("UPDATE deployments SET delivery_role = 'receiving' WHERE id = ?").run(b.id);
    expect(f.core.peers.expireSilent()).toBe(1);
    expect(f.core.deployments.get(b.id).delivery_role).toBe('done');
    // One that announces again in time is not touched.
    announce(b);
    expect(f.core.peers.expireSilent()).toBe(0);
    expect(f.core.deployments.get(b.id).delivery_role).toBe('receiving');
  });

  it('keeps a finished device serving while others receive, within its batch linger time, and records each role once', () => {
    const batch = f.core.batches.create({ venue_code: 'SWRM', product_type: 'KXP2', total_count: 5, peer_linger_s: 30 });
    f.core.batches.start(batch.id);
    const [a, b] = [join(1), join(2)];
    announce(a, { have: holding(all()) });
    announce(b);
    const before = f.eventsNamed('deployment_status').length;
    expect(announce(a, { role: 'serving', have: holding(all()) }).response.linger).toBe(true);
    expect(announce(a, { role: 'serving', have: holding(all()) }).response.linger).toBe(true);
    expect(f.eventsNamed('deployment_status').slice(before).map((e) => e.deployment.delivery_role)).toEqual(['serving']);
    // Both keep announcing, a second apart: the first 30 s it is asked to stay, then to go.
    const answers: boolean[] = [];
    for (let second = 1; second <= 31; second++) {
      f.advance(1000);
      announce(b);
      answers.push(announce(a, { role: 'serving', have: holding(all()) }).response.linger);
    }
    expect(answers.indexOf(false)).toBe(29);
    expect(answers.slice(29)).toEqual([false, false]);
    // Nobody receiving: no reason to stay.
    const c = join(3);
    announce(c, { role: 'serving', have: holding(all()) });
    announce(b, { role: 'done' });
    expect(announce(c, { role: 'serving', have: holding(all()) }).response.linger).toBe(false);
    expect(f.core.deployments.get(b.id).delivery_role).toBe('done');
  });

  it('is off for the devices of a batch an operator turned it off for', () => {
    const batch = f.core.batches.create({ venue_code: 'SWRM', product_type: 'KXP2', total_count: 5, peer_delivery: false });
    f.core.batches.start(batch.id);
    const a = join(1);
    expect(f.core.peers.enabledFor(batch.id)).toBe(false);
    expect(announce(a, { want: 8 }).response).toMatchObject({ enabled: false, reason: `one-to-many delivery is off for batch ${batch.id}`, peers: [], fetch_from_server: [] });
    expect(f.core.peers.membersOf(image.sha256)).toEqual([]);
    f.core.batches.setPeerDelivery(batch.id, { peer_delivery: true });
    expect(announce(a, { want: 8 }).response.enabled).toBe(true);
    f.advance(SWARM_WARMUP_MS);
    expect(announce(a, { want: 8 }).response.fetch_from_server).toHaveLength(Math.min(8, chunkCount));
  });

  it('refuses announces for unknown deployments, with a wrong token, for another image, or with a malformed chunk set', () => {
    const a = join(1);
    expect(() => announce({ ...a, id: 9999 })).toThrow(/There is no deployment 9999/);
    expect(() => announce({ ...a, token: 'x'.repeat(32) })).toThrow(/deployment_token is not the one/);
    expect(() => announce(a, { image_sha256: 'f'.repeat(64) })).toThrow(/installs the image with sha256/);
    const tooLong = Buffer.alloc(Math.ceil(chunkCount / 8) + 1).toString('base64');
    expect(() => announce(a, { have: tooLong })).toThrow(/bitfields of the image's/);
    expect(() => announce(a, { starved_for: tooLong })).toThrow(/bitfields of the image's/);
    const spare = Math.ceil(chunkCount / 8) * 8 - chunkCount;
    if (spare > 0) {
      const bits = Buffer.alloc(Math.ceil(chunkCount / 8));
      bits[bits.length - 1] = 1; // past the last chunk
      expect(() => announce(a, { have: bits.toString('base64') })).toThrow(/bitfield/);
    }
    expect(f.core.peers.membersOf(image.sha256)).toEqual([]);
  });
});

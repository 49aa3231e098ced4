// One-to-many delivery, the server's side: for each image being deployed, a swarm of the devices fetching or serving
// its chunks. Devices announce what they hold about once a second; the answer lists peers that hold chunks, the
// chunks the server has just sent (soon held by someone: wait for them), and whether a finished device should keep
// serving. The swarm lives in memory: after a restart the next announces rebuild it (with a new key).
import { randomBytes } from 'node:crypto';
import type { PeerRole } from '../contracts/domain.js';
import { AppError } from '../contracts/errors.js';
import {
  ChunkSet,
  DEFAULT_PEER_LINGER_S,
  MAX_SERVER_ASSIGNMENTS,
  MAX_SERVER_COPIES_FOR_STARVED,
  PEER_ANNOUNCE_INTERVAL_MS,
  PEER_TTL_MS,
  PEERS_PER_ANSWER,
  SERVER_SEEDING_WINDOW_MS,
  SWARM_WARMUP_MS,
  type PeerAnnounce,
  type PeerAnnounceResponse,
  type SwarmPeer,
} from '../contracts/peer-delivery.js';
import { isoOf, type CoreContext } from './context.js';
import type { DeploymentService } from './deployment.service.js';

interface Member {
  deploymentId: number;
  /** Base URL of its chunk server; null when it serves nothing. */
  url: string | null;
  have: ChunkSet;
  role: PeerRole;
  lastSeen: number;
  /** When it started serving as a finished device. */
  servingSince: number | null;
  lingerMs: number;
}

interface Swarm {
  key: string;
  createdAt: number;
  chunkCount: number;
  members: Map<number, Member>;
  /** When the server last sent or handed out each chunk (ms), 0 for never. */
  lastSent: Float64Array;
  /** How many times the server has sent each chunk since the swarm began. */
  sends: Uint32Array;
  /** Devices reported for sending data that failed its hash: never handed out again. */
  quarantined: Set<number>;
}

export interface BadPeerReport {
  reporter: number;
  peer: number;
  chunk: number;
  reason: string;
}

export interface AnnounceOutcome {
  response: PeerAnnounceResponse;
  /** Peers newly reported for bad data (the transport logs them). */
  badPeers: BadPeerReport[];
}

export interface AnnounceOptions {
  requireToken?: boolean;
}

export function createPeerSwarmService(ctx: CoreContext, deployments: DeploymentService) {
  const { repos } = ctx;
  const swarms = new Map<string, Swarm>();
  const clock = () => ctx.now().getTime();

  const setRole = (deploymentId: number, role: PeerRole) =>
    ctx.write((emit) => {
      const updated = repos.deployments.setDeliveryRole(deploymentId, role, isoOf(ctx.now()));
      if (updated) emit('deployment_status', { deployment_id: updated.id, status: updated.status, progress: updated.progress, deployment: updated });
    });

  /** Members silent for longer than the TTL are gone; the record says so. */
  const expire = (swarm: Swarm, now: number) => {
    for (const member of [...swarm.members.values()]) {
      if (now - member.lastSeen <= PEER_TTL_MS) continue;
      swarm.members.delete(member.deploymentId);
      setRole(member.deploymentId, 'done');
    }
  };

  const off = (reason: string): PeerAnnounceResponse => ({
    enabled: false,
    reason,
    swarm_key: '',
    interval_ms: PEER_ANNOUNCE_INTERVAL_MS,
    peers: [],
    serving_members: 0,
    seeding: '',
    fetch_from_server: [],
    linger: false,
  });

  /** Why one-to-many is off for this deployment, or null when it is on. */
  const disabledReason = (batchId: number | null): string | null => {
    const batch = batchId === null ? undefined : repos.batches.peerSettings(batchId);
    return batch && !batch.peer_delivery ? `one-to-many delivery is off for batch ${batch.id}` : null;
  };

  return {
    /** Whether a device of this batch takes part (the configuration answer names the announce URL only then). */
    enabledFor: (batchId: number | null): boolean => disabledReason(batchId) === null,

    announce(input: PeerAnnounce, address: string, options: AnnounceOptions = {}): AnnounceOutcome {
      const deployment = deployments.authenticate(input.deployment_id, input.deployment_token?.trim() || null, options.requireToken ?? false);
      if (deployment.image_checksum !== input.image_sha256) {
        throw new AppError('CONFLICT', `Deployment ${deployment.id} installs the image with sha256 ${deployment.image_checksum}, not ${input.image_sha256}.`);
      }
      const reason = disabledReason(deployment.batch_id);
      if (reason) return { response: off(reason), badPeers: [] };
      const image = deployment.image_id === null ? undefined : repos.images.find(deployment.image_id);
      if (!image?.delivery) return { response: off(`the image of deployment ${deployment.id} has no chunks`), badPeers: [] };
      const chunkCount = image.delivery.chunk_count;
      const have = ChunkSet.decode(input.have, chunkCount);
      const starvedFor = input.starved_for ? ChunkSet.decode(input.starved_for, chunkCount) : null;
      if (!have || (input.starved_for && !starvedFor)) {
        throw new AppError('VALIDATION', `"have" and "starved_for" must be bitfields of the image's ${chunkCount} chunks (${Math.ceil(chunkCount / 8)} bytes, base64).`);
      }

      const now = clock();
      let swarm = swarms.get(image.sha256);
      if (!swarm || swarm.chunkCount !== chunkCount) {
        swarm = {
          key: randomBytes(24).toString('base64url'),
          createdAt: now,
          chunkCount,
          members: new Map(),
          lastSent: new Float64Array(chunkCount),
          sends: new Uint32Array(chunkCount),
          quarantined: new Set(),
        };
        swarms.set(image.sha256, swarm);
      }
      expire(swarm, now);

      const badPeers: BadPeerReport[] = [];
      for (const bad of input.bad_peers) {
        if (bad.deployment_id === deployment.id || swarm.quarantined.has(bad.deployment_id)) continue;
        swarm.quarantined.add(bad.deployment_id);
        swarm.members.delete(bad.deployment_id);
        badPeers.push({ reporter: deployment.id, peer: bad.deployment_id, chunk: bad.chunk, reason: bad.reason });
      }

      const previous = swarm.members.get(deployment.id);
      const batch = deployment.batch_id === null ? undefined : repos.batches.peerSettings(deployment.batch_id);
      const member: Member = {
        deploymentId: deployment.id,
        url: input.port !== null && !swarm.quarantined.has(deployment.id) ? `http://${urlHost(address)}:${input.port}` : null,
        have,
        role: input.role,
        lastSeen: now,
        servingSince: input.role === 'serving' ? (previous?.servingSince ?? now) : null,
        lingerMs: (batch?.peer_linger_s ?? DEFAULT_PEER_LINGER_S) * 1000,
      };
      if (input.role === 'done') swarm.members.delete(deployment.id);
      else swarm.members.set(deployment.id, member);
      if (previous?.role !== input.role && deployment.delivery_role !== input.role) setRole(deployment.id, input.role);

      const others = [...swarm.members.values()].filter((m) => m.deploymentId !== deployment.id);
      const othersServing = servingMembers(swarm).filter((m) => m.deploymentId !== deployment.id);
      const candidates = othersServing.filter((m) => m.have.count() > 0);
      const peers: SwarmPeer[] = sample(candidates, PEERS_PER_ANSWER).map((m) => ({ deployment_id: m.deploymentId, url: m.url!, have: m.have.encode() }));
      const fetchFromServer = assignServerChunks(swarm, member, Math.min(input.want, MAX_SERVER_ASSIGNMENTS), now, starvedFor);
      if (starvedFor && fetchFromServer.length === 0) fetchFromServer.push(...grantToStarved(swarm, member, starvedFor, now));
      const seeding = new ChunkSet(chunkCount);
      for (let i = 0; i < chunkCount; i++) if (now - swarm.lastSent[i]! < SERVER_SEEDING_WINDOW_MS) seeding.add(i);
      const stillNeeded = others.some((m) => m.role === 'receiving');
      const linger = input.role === 'serving' && stillNeeded && now - member.servingSince! < member.lingerMs;
      return {
        response: { enabled: true, reason: null, swarm_key: swarm.key, interval_ms: PEER_ANNOUNCE_INTERVAL_MS, peers, serving_members: othersServing.length, seeding: seeding.encode(), fetch_from_server: fetchFromServer, linger },
        badPeers,
      };
    },

    /**
     * Closes what silence has ended: members that stopped announcing, and records that still say receiving or
     * serving but belong to no swarm (the device vanished as the last of its swarm, or the server restarted and it
     * never came back). Run periodically.
     */
    expireSilent(): number {
      const now = clock();
      for (const swarm of swarms.values()) expire(swarm, now);
      const live = new Set([...swarms.values()].flatMap((swarm) => [...swarm.members.keys()]));
      let closed = 0;
      for (const record of repos.deployments.listInSwarms()) {
        if (live.has(record.id) || now - Date.parse(record.updated_at) <= PEER_TTL_MS) continue;
        setRole(record.id, 'done');
        closed++;
      }
      for (const [sha, swarm] of swarms) if (swarm.members.size === 0) swarms.delete(sha);
      return closed;
    },

    /**
     * The server began sending chunk `index` of the image with this SHA-256 to this deployment. Counted only for members
     * of the image's swarm: a device that fetches from the server alone (one-to-many off for its batch, an installer
     * without it) brings the swarm nothing.
     */
    noteServerSend(imageSha256: string, index: number, deploymentId: number | null): void {
      const swarm = swarms.get(imageSha256);
      if (!swarm || index >= swarm.chunkCount || deploymentId === null || !swarm.members.has(deploymentId)) return;
      swarm.lastSent[index] = clock();
      swarm.sends[index]!++;
    },

    /** The swarm of an image as it stands (tests, diagnostics). */
    membersOf(imageSha256: string): Array<{ deployment_id: number; role: PeerRole; holds: number; url: string | null }> {
      const swarm = swarms.get(imageSha256);
      if (!swarm) return [];
      return [...swarm.members.values()].map((m) => ({ deployment_id: m.deploymentId, role: m.role, holds: m.have.count(), url: m.url }));
    },
  };
}
export type PeerSwarmService = ReturnType<typeof createPeerSwarmService>;

/**
 * Up to `want` chunks for this member to fetch from the server (none while the swarm warms up): ones no serving member
 * holds and the server has not sent lately, chosen at random so that devices asking at once get different ones; of a
 * starving member, only ones it says it needs (its cache may have let go of chunks it has written). Each is marked as
 * sent now, so the next device asking is given others (or waits for a peer to hold it). "Lately" is the seeding
 * window, doubled for each copy sent after the first (3, 6, 12, then 24 s): on a crowded network a device can take
 * longer than the window to fetch and announce a chunk, and handing it out again at once would send it twice.
 */
function assignServerChunks(swarm: Swarm, member: Member, want: number, now: number, needs: ChunkSet | null): number[] {
  if (want <= 0 || now - swarm.createdAt < SWARM_WARMUP_MS) return [];
  const held = new ChunkSet(swarm.chunkCount);
  for (const other of servingMembers(swarm)) other.have.bits.forEach((byte, i) => (held.bits[i]! |= byte));
  const free: number[] = [];
  for (let i = 0; i < swarm.chunkCount; i++) {
    const window = SERVER_SEEDING_WINDOW_MS * 2 ** Math.min(Math.max(swarm.sends[i]! - 1, 0), 3);
    if (!held.has(i) && now - swarm.lastSent[i]! >= window && !member.have.has(i) && (needs?.has(i) ?? true)) free.push(i);
  }
  const chosen = sample(free, want);
  for (const index of chosen) swarm.lastSent[index] = now;
  return chosen.sort((a, b) => a - b);
}

/**
 * For a member that found nothing to fetch for a while: one chunk it needs, from the server anyway, among those the
 * server has sent fewer than MAX_SERVER_COPIES_FOR_STARVED times and not lately, the one fewest members hold (so it
 * helps others too). None otherwise: it waits for peers, which hold everything else.
 */
function grantToStarved(swarm: Swarm, member: Member, needs: ChunkSet, now: number): number[] {
  if (now - swarm.createdAt < SWARM_WARMUP_MS) return [];
  const held = new Uint16Array(swarm.chunkCount);
  for (const other of servingMembers(swarm)) other.have.countInto(held);
  let best: number[] = [];
  let fewest = Infinity;
  for (let i = 0; i < swarm.chunkCount; i++) {
    if (!needs.has(i) || member.have.has(i) || swarm.sends[i]! >= MAX_SERVER_COPIES_FOR_STARVED || now - swarm.lastSent[i]! < SERVER_SEEDING_WINDOW_MS) continue;
    if (held[i]! < fewest) [best, fewest] = [[i], held[i]!];
    else if (held[i] === fewest) best.push(i);
  }
  const chosen = sample(best, 1);
  for (const index of chosen) swarm.lastSent[index] = now;
  return chosen;
}

/** Members whose chunks count as held: a quarantined or non-serving one helps nobody. */
const servingMembers = (swarm: Swarm) => [...swarm.members.values()].filter((member) => member.url !== null);

/** An IPv6 address goes in brackets; an IPv4-mapped one is written as IPv4. */
function urlHost(address: string): string {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (v4) return v4[1]!;
  return address.includes(':') ? `[${address}]` : address;
}

/** Up to `n` items, in random order (Fisher–Yates on a copy). */
function sample<T>(items: T[], n: number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, n);
}

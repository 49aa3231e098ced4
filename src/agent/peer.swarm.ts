// One-to-many delivery, a device's membership of its image's swarm: it announces what it holds at the interval the
// server answers (twice a second), and at once when it runs out of work; learns from the answer which peers hold
// which chunks and which chunks the server wants it to fetch, and decides for the chunk fetcher where each next
// chunk comes from:
//   1. a chunk a usable peer holds, rarest first (so the swarm's copies spread);
//   2. a chunk the server handed this device (nobody else holds it or is fetching it, or the device was starving);
//   3. when nothing could be started from either for PEER_WAIT_MS: with peers that could serve, it asks the server
//      for a chunk in its next announce (starving), which the server grants within its bound on copies; with none
//      (alone, off, out of reach), or a server that does not answer, any missing chunk from the server: the server's
//      copy is always the last resort.
// A peer that is unreachable or busy is rested for a moment; one that sent bad data is never asked again and is
// reported to the server. When the installation is done the device serves on (linger) while the server says others
// still need it, then leaves.
import type { ImageManifest } from '../contracts/image-delivery.js';
import {
  ChunkSet,
  MAX_SERVER_ASSIGNMENTS,
  PEER_ANNOUNCE_INTERVAL_MS,
  PeerAnnounceResponse,
  peerChunkPath,
  SWARM_KEY_HEADER,
  type PeerAnnounce,
  type PeerRole,
} from '../contracts/peer-delivery.js';
import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { Value } from 'typebox/value';
import { formatBytes } from '../contracts/format.js';
import { deviceTokenHeaders, httpError, readBodyText, sendRequest } from './http.client.js';
import { InstallerError, isTransientError } from './installer.errors.js';
import { PeerChunkServer } from './peer-chunk.server.js';

/**
 * With nothing to start from peers or by assignment for this long, a device takes chunks from the server: all it
 * needs when no peer could serve, else one it asks the server for (see pick).
 */
export const PEER_WAIT_MS = 1500;
/** Chunks fetched at once from one peer. */
const PER_PEER_IN_FLIGHT = 1;
/** How long a busy or unreachable peer is left alone. */
const BUSY_REST_MS = 300;
const UNREACHABLE_REST_MS = 5000;
/** This many transfers from peers in a row failing to reach them rests every peer. */
const UNREACHABLE_IN_A_ROW = 4;
/** Without an announce answer for this long, the server is not coordinating: a starving device fetches from it itself. */
const ANNOUNCE_SILENCE_MS = 5000;
/** A device starving this long (nothing from peers, nothing handed out) fetches from the server itself, one at a time. */
export const STARVED_LIMIT_MS = 15_000;
/** Without an answer from the server for this long, a finished device stops serving and reboots. */
const LINGER_SERVER_SILENCE_MS = 60_000;

export interface PeerRef {
  deploymentId: number;
  url: string;
}

/**
 * Why a chunk came from the server: handed to this device (nobody held it, or it was starving), after starving for
 * STARVED_LIMIT_MS on peers that were busy or did not hold it, while the server did not answer announces, or with no
 * peer that could serve (alone, off, or out of reach).
 */
type ServerPick = 'assigned' | 'starved' | 'unanswered' | 'alone';

/** How a transfer from a peer ended; `missing`: the peer no longer holds the chunk (its cache let it go). */
export type PeerOutcome = 'ok' | 'busy' | 'missing' | 'unreachable' | 'corrupt';

export interface PeerSwarmOptions {
  announceUrl: string;
  deploymentId: number;
  deploymentToken: string | null;
  manifest: ImageManifest;
  deviceToken?: string | null;
  /** Compressed bytes kept in memory for serving. */
  cacheBytes: number;
  maxUploads?: number;
  port?: number;
  /** Address the chunk server listens on (default: the local address that reaches the server: the deployment network). */
  host?: string;
  /** Failure injection: serve corrupted chunks. */
  corruptServed?: boolean;
  signal?: AbortSignal;
  onWarning?: (message: string) => void;
}

interface PeerState {
  ref: PeerRef;
  have: ChunkSet;
  inFlight: number;
  /** Busy or unreachable: not asked until then. */
  restUntil: number;
  /** Unreachable (refused, cut, stalled): not counted as a possible source until then. */
  unreachableUntil: number;
}

export class PeerSwarm {
  role: PeerRole = 'receiving';
  bytesFromPeers = 0;
  bytesFromServer = 0;
  /** Peers dropped for sending bad data. */
  readonly banned = new Set<number>();
  /** How transfers from peers ended, and why those that did not reach their peer failed: the closing summary's. */
  readonly outcomes: Record<PeerOutcome, number> = { ok: 0, busy: 0, missing: 0, unreachable: 0, corrupt: 0 };
  /** Why chunks were taken from the server: the closing summary's. */
  readonly serverPicks: Record<ServerPick, number> = { assigned: 0, starved: 0, unanswered: 0, alone: 0 };
  private readonly failureReasons = { busy: new Map<string, number>(), unreachable: new Map<string, number>() };
  private readonly chunkCount: number;
  private peers = new Map<number, PeerState>();
  private holders: Uint16Array;
  private seeding: ChunkSet;
  private readonly assigned = new Set<number>();
  private serverInFlight = 0;
  private unreachableInARow = 0;
  /** Whether the server has ever listed a peer, and ever answered an announce. */
  private hadPeers = false;
  private answered = false;
  /** Whether the last answer handed out chunks to fetch from the server. */
  private handedOut = false;
  /** Whether the server hands starving devices chunks (it counts members: it knows starved_for). */
  private serverGrants = false;
  /** Peers out of reach, until when: kept across answers, whose samples rotate. */
  private readonly outOfReach = new Map<number, number>();
  /** Other members serving, as the last answer counted them (listed or not). */
  private servingMembers = 0;
  private noSourceSince: number | null = null;
  /** Since when nothing could start except by waiting on the server's say (see pick); the chunks it then needed. */
  private starvedSince: number | null = null;
  private starvedFor: ChunkSet | null = null;
  private enabled = true;
  private swarmKey = '';
  private intervalMs = PEER_ANNOUNCE_INTERVAL_MS;
  private lingerWanted = false;
  /** Whether an answer to an announce made as a finished device (role serving) has arrived. */
  private answeredAsServing = false;
  private lastAnswerAt = performance.now();
  private pendingReports: PeerAnnounce['bad_peers'] = [];
  private timer: NodeJS.Timeout | null = null;
  private announcing: Promise<void> | null = null;
  private wakeUp: Array<() => void> = [];
  private closed = false;

  private constructor(
    private readonly options: PeerSwarmOptions,
    readonly server: PeerChunkServer,
    private readonly port: number,
  ) {
    this.chunkCount = options.manifest.chunks.length;
    this.holders = new Uint16Array(this.chunkCount);
    this.seeding = new ChunkSet(this.chunkCount);
  }

  /**
   * Starts the chunk server and announces once. Null when the server says one-to-many is off for this device, or
   * cannot say (an older server, an error): the installer then fetches everything from the server, as before.
   */
  static async join(options: PeerSwarmOptions): Promise<PeerSwarm | null> {
    let host = options.host;
    try {
      host ??= await localAddressToward(new URL(options.announceUrl));
    } catch (error) {
      options.onWarning?.(`one-to-many delivery off: no local address reaches the server (${(error as Error).message})`);
      return null;
    }
    const server = new PeerChunkServer({
      imageSha256: options.manifest.image_sha256,
      chunkCount: options.manifest.chunks.length,
      cacheBytes: options.cacheBytes,
      maxUploads: options.maxUploads,
      deviceToken: options.deviceToken,
      port: options.port,
      host,
      corruptServed: options.corruptServed,
    });
    let port: number;
    try {
      port = await server.listen();
    } catch (error) {
      options.onWarning?.(`one-to-many delivery off: the chunk server could not listen (${(error as Error).message})`);
      return null;
    }
    const swarm = new PeerSwarm(options, server, port);
    try {
      await swarm.announce();
    } catch (error) {
      // A server that does not know announces (older than one-to-many) or refuses this device: the server alone.
      // One that is only slow to answer (a crowd of devices starting at once) is asked again at the next tick; until
      // then the device fetches from the server as a lone one would.
      if (!isTransientError(error)) {
        await server.close();
        options.onWarning?.(`one-to-many delivery off: the server refused the announce (${(error as Error).message}); fetching every chunk from the server`);
        return null;
      }
    }
    if (!swarm.enabled) {
      await server.close();
      return null;
    }
    swarm.schedule();
    return swarm;
  }

  /** The next chunk of `pending` to start and where from (null: the server); undefined when nothing should start now. */
  pick(pending: ReadonlySet<number>): { index: number; peer: PeerRef | null } | undefined {
    const now = performance.now();
    const fromPeer = this.pickFromPeer(pending, now);
    if (fromPeer) {
      this.noSourceSince = null;
      return fromPeer;
    }
    for (const index of this.assigned) {
      this.assigned.delete(index);
      if (pending.has(index)) {
        this.noSourceSince = null;
        this.fed();
        return this.fromServer(index, 'assigned');
      }
    }
    if (!this.enabled) return this.fromServer(first(pending), 'alone');
    // Waiting is for peers to catch up, not for ever. With no peer that could serve at all (none listed, or every one
    // unreachable: a network that isolates devices), the server serves every pick after PEER_WAIT_MS. With peers that
    // are only busy or do not hold the chunk yet, a device that has had nothing in flight for that long is starving.
    this.noSourceSince ??= now;
    if (now - this.noSourceSince < PEER_WAIT_MS) return this.waitForWork();
    // An empty list is no sign of isolation when peers were known (churn, a server restart: they may come back), when
    // the server has not answered an announce yet (a crowd starting at once keeps it busy, and peers may be many), or
    // when it counts other members that serve (none of them holds a chunk yet: they soon will).
    const peersCanServe =
      this.peers.size === 0 ? this.hadPeers || !this.answered || this.servingMembers > 0 : [...this.peers.values()].some((peer) => peer.unreachableUntil <= now);
    if (!peersCanServe) return this.fromServer(this.leastSeeded(pending), 'alone');
    if (this.serverInFlight > 0 || this.peerInFlight() > 0) return this.waitForWork();
    this.noSourceSince = now;
    this.starvedSince ??= now;
    // The server decides whether it sends a starving device a chunk anyway: it bounds how often it sends each one, so a
    // crowded swarm does not turn back into a hundred unicast streams. Without its answers (none yet, or none lately),
    // from a server that predates this (it does not count members), or starving for long (nothing arrived from peers
    // or the server), the device takes one chunk per PEER_WAIT_MS from the server itself.
    const unanswered = !this.answered || now - this.lastAnswerAt >= ANNOUNCE_SILENCE_MS;
    if (!unanswered && this.serverGrants && now - this.starvedSince < STARVED_LIMIT_MS) {
      this.askWhileStarving(pending);
      return undefined;
    }
    return this.fromServer(this.leastSeeded(pending), unanswered ? 'unanswered' : 'starved');
  }

  /** Nothing to start now: ask the server for work at once (see announceSoon), and wait. */
  private waitForWork(): undefined {
    this.announceSoon();
    return undefined;
  }

  /** Something arrived, or is on its way from the server: not starving (any more). */
  private fed(): void {
    this.starvedSince = null;
    this.starvedFor = null;
  }

  /** A pending chunk to take from the server unasked: one it is not sending into the swarm already, if there is one. */
  private leastSeeded(pending: ReadonlySet<number>): number {
    const notSeeding = [...pending].filter((i) => !this.seeding.has(i));
    return notSeeding.length ? randomOf(notSeeding) : randomOf([...pending]);
  }

  private peerInFlight(): number {
    let n = 0;
    for (const peer of this.peers.values()) n += peer.inFlight;
    return n;
  }

  /** Resolves when picking again may find something: an announce answer, a transfer's end, or a short while. */
  changed(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 100);
      this.wakeUp.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** A chunk fetched from the server or a peer arrived and checked out: keep it for serving and count it. */
  received(index: number, frame: Buffer, from: PeerRef | null): void {
    this.fed();
    if (from) this.bytesFromPeers += frame.length;
    else this.bytesFromServer += frame.length;
    this.server.keep(index, frame, (i) => this.holders[i]!);
  }

  /** How a transfer from a peer ended; frees its slot. */
  peerDone(peer: PeerRef, outcome: PeerOutcome, index: number, detail?: string): void {
    const state = this.peers.get(peer.deploymentId);
    const now = performance.now();
    this.outcomes[outcome]++;
    if (outcome === 'busy' || outcome === 'unreachable') {
      const reasons = this.failureReasons[outcome];
      const reason = reasonOf(detail);
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    }
    if (state) {
      state.inFlight--;
      if (outcome === 'busy') state.restUntil = now + BUSY_REST_MS;
      // Until its next announce says otherwise: asking it again would only be told no again, as often as it is rarest.
      if (outcome === 'missing' && state.have.has(index)) {
        state.have.delete(index);
        this.holders[index]!--;
      }
      if (outcome === 'unreachable') state.restUntil = state.unreachableUntil = now + UNREACHABLE_REST_MS;
    }
    if (outcome === 'unreachable') this.outOfReach.set(peer.deploymentId, now + UNREACHABLE_REST_MS);
    // Several peers in a row out of reach, none since: the network likely keeps devices apart (a switch that isolates
    // ports, a firewall that drops). Rest them all rather than wait on each in turn.
    this.unreachableInARow = outcome === 'unreachable' ? this.unreachableInARow + 1 : outcome === 'ok' ? 0 : this.unreachableInARow;
    if (this.unreachableInARow >= UNREACHABLE_IN_A_ROW) {
      for (const peer of this.peers.values()) {
        peer.restUntil = peer.unreachableUntil = now + UNREACHABLE_REST_MS;
        this.outOfReach.set(peer.ref.deploymentId, peer.unreachableUntil);
      }
    }
    if (outcome === 'corrupt' && !this.banned.has(peer.deploymentId)) {
      this.banned.add(peer.deploymentId);
      this.peers.delete(peer.deploymentId);
      this.recount();
      this.pendingReports.push({ deployment_id: peer.deploymentId, chunk: index, reason: (detail ?? 'failed its hash').slice(0, 300) });
      this.options.onWarning?.(`peer ${peer.url} (deployment ${peer.deploymentId}) sent chunk ${index} corrupt (${detail ?? 'failed its hash'}): dropped and reported`);
      this.announceSoon();
    }
    this.wake();
  }

  /** How the transfers from peers went, in one line for the log. */
  describeTransfers(): string {
    const { ok, busy, missing, unreachable, corrupt } = this.outcomes;
    const why = (reasons: Map<string, number>) => {
      const top = [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([reason, n]) => `${reason} ×${n}`);
      return top.length ? ` (${top.join(', ')})` : '';
    };
    return (
      `one-to-many: ${ok} chunk(s) from peers, ${formatBytes(this.bytesFromPeers)}; ${formatBytes(this.bytesFromServer)} from the server ` +
      `(${this.serverPicks.assigned} handed out, ${this.serverPicks.starved} after starving, ${this.serverPicks.unanswered} with announces unanswered, ` +
      `${this.serverPicks.alone} with no peer to ask); ` +
      `peers busy ${busy} time(s)${why(this.failureReasons.busy)}, no longer holding the chunk ${missing}, out of reach ${unreachable}${why(this.failureReasons.unreachable)}, sent bad data ${corrupt}`
    );
  }

  /** What a peer's own answer says it holds now (PEER_HAVE_HEADER): fresher than the last announce answer. */
  peerHolds(peer: PeerRef, text: string): void {
    const state = this.peers.get(peer.deploymentId);
    const have = state ? ChunkSet.decode(text, this.chunkCount) : null;
    if (!state || !have) return;
    state.have.countInto(this.holders, -1);
    have.countInto(this.holders);
    state.have = have;
  }

  /** A transfer from the server ended (either way); frees its slot. */
  serverDone(): void {
    this.serverInFlight--;
    this.wake();
  }

  /** Headers a request to a peer carries. */
  peerHeaders(): Record<string, string> {
    return { [SWARM_KEY_HEADER]: this.swarmKey, ...deviceTokenHeaders(this.options.deviceToken) };
  }

  chunkUrl(peer: PeerRef, index: number): URL {
    return new URL(peerChunkPath(this.options.manifest.image_sha256, index), peer.url);
  }

  /**
   * Done installing: serve others while the server says they still need this device (its batch's linger time at
   * most). A server that does not answer is waited for, serving on, for up to a minute of silence: a restart must
   * not send away the devices others are fetching from. Resolves when it is time to go; `lingered` is false when
   * nobody needed it.
   */
  async linger(): Promise<{ lingered: boolean; lingeredMs: number }> {
    const started = performance.now();
    const signal = this.options.signal;
    this.role = 'serving';
    let lingered = false;
    while (!this.closed && !signal?.aborted) {
      await this.announce().catch(() => {});
      // An announce already on its way when this began went out as `receiving`: only answers to `serving` count.
      if (!this.answeredAsServing) await this.announce().catch(() => {});
      const answered = this.answeredAsServing;
      if (answered && !this.lingerWanted) break;
      if (performance.now() - this.lastAnswerAt >= LINGER_SERVER_SILENCE_MS) break;
      if (answered) lingered = true;
      // Unplugged or stopped: go at once, not at the next tick.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.intervalMs);
        function done() {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          resolve();
        }
        signal?.addEventListener('abort', done, { once: true });
      });
    }
    return { lingered, lingeredMs: Math.round(performance.now() - started) };
  }

  /** Stops serving and tells the server (best effort). */
  async leave(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.role = 'done';
    await this.announcing?.catch(() => {});
    await this.post().catch(() => {});
    await this.server.close();
    this.wake();
  }

  private pickFromPeer(pending: ReadonlySet<number>, now: number): { index: number; peer: PeerRef } | undefined {
    // Workers of a starving device ask ten times a second: with every peer busy or resting that must cost little.
    const usable = [...this.peers.values()].filter((peer) => peer.inFlight < PER_PEER_IN_FLIGHT && peer.restUntil <= now);
    if (usable.length === 0) return undefined;
    const order = [...pending];
    const start = Math.floor(Math.random() * order.length);
    let best: { index: number; peer: PeerState } | undefined;
    let bestCount = Infinity;
    for (let k = 0; k < order.length; k++) {
      const index = order[(start + k) % order.length]!;
      const count = this.holders[index]!;
      if (count === 0 || count >= bestCount) continue;
      const peer = usableHolder(usable, index);
      if (!peer) continue;
      best = { index, peer };
      bestCount = count;
      if (count === 1) break;
    }
    if (!best) return undefined;
    best.peer.inFlight++;
    return { index: best.index, peer: best.peer.ref };
  }

  private fromServer(index: number, why: ServerPick): { index: number; peer: null } {
    this.serverPicks[why]++;
    this.serverInFlight++;
    return { index, peer: null };
  }

  private wake(): void {
    const waiting = this.wakeUp;
    this.wakeUp = [];
    for (const resolve of waiting) resolve();
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      void this.announce()
        .catch(() => {})
        .finally(() => this.schedule());
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Announces what it still needs (starved_for), after the announce on its way if there is one: it went without. */
  private askWhileStarving(pending: ReadonlySet<number>): void {
    this.starvedFor = ChunkSet.of(this.chunkCount, pending);
    const ask = () => this.announce().catch(() => {});
    void ask().then(() => (this.starvedFor ? ask() : undefined));
  }

  private lastEarlyAnnounce = 0;
  /**
   * Out of work: ask the server now rather than at the next tick. At most ten times a second while its answers hand
   * out chunks (a lone device lives on them), else twice an interval: a hundred devices waiting on busy peers must not
   * keep the server and themselves busy with announces.
   */
  private announceSoon(): void {
    const now = performance.now();
    const gap = this.handedOut ? 100 : this.intervalMs / 2;
    if (this.closed || this.announcing || now - this.lastEarlyAnnounce < gap) return;
    this.lastEarlyAnnounce = now;
    void this.announce().catch(() => {});
  }

  private announce(): Promise<void> {
    const role = this.role;
    this.announcing ??= this.post()
      .then((answer) => {
        if (role === 'serving') this.answeredAsServing = true;
        this.apply(answer);
      })
      .finally(() => {
        this.announcing = null;
      });
    return this.announcing;
  }

  private async post(): Promise<PeerAnnounceResponse> {
    const reports = this.pendingReports.splice(0, 32);
    // Asked once per starving spell: pick asks again if it is still starving PEER_WAIT_MS later.
    const starvedFor = this.starvedFor;
    this.starvedFor = null;
    const body: PeerAnnounce = {
      deployment_id: this.options.deploymentId,
      deployment_token: this.options.deploymentToken,
      image_sha256: this.options.manifest.image_sha256,
      port: this.port,
      have: this.server.have.encode(),
      role: this.role,
      want: this.role === 'receiving' ? Math.max(0, MAX_SERVER_ASSIGNMENTS / 2 - this.assigned.size) : 0,
      // Left out unless starving: servers that predate it refuse fields they do not know.
      ...(starvedFor && this.role === 'receiving' ? { starved_for: starvedFor.encode() } : {}),
      bytes_from_peers: this.bytesFromPeers,
      bytes_from_server: this.bytesFromServer,
      bytes_served: this.server.bytesServed,
      bad_peers: reports,
    };
    try {
      const response = await sendRequest(new URL(this.options.announceUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...deviceTokenHeaders(this.options.deviceToken) },
        body: JSON.stringify(body),
        idleTimeoutMs: 10_000,
        signal: this.options.signal,
      });
      const status = response.statusCode ?? 0;
      const text = await readBodyText(response, 4 << 20);
      if (status !== 200) throw httpError('announcing to the swarm failed', status, text);
      const answer = JSON.parse(text) as unknown;
      if (!Value.Check(PeerAnnounceResponse, answer)) throw new InstallerError('BAD_RESPONSE', 'the announce answer is malformed');
      this.lastAnswerAt = performance.now();
      return answer;
    } catch (error) {
      this.pendingReports.unshift(...reports);
      throw error;
    }
  }

  private apply(answer: PeerAnnounceResponse): void {
    if (this.closed) return;
    this.answered = true;
    this.enabled = answer.enabled;
    this.swarmKey = answer.swarm_key;
    this.server.setSwarmKey(answer.swarm_key);
    this.intervalMs = answer.interval_ms;
    this.lingerWanted = answer.linger;
    this.servingMembers = answer.serving_members ?? 0;
    this.serverGrants = answer.serving_members !== undefined;
    const seeding = ChunkSet.decode(answer.seeding, this.chunkCount);
    if (seeding) this.seeding = seeding;
    for (const index of answer.fetch_from_server) if (index < this.chunkCount) this.assigned.add(index);
    this.handedOut = answer.fetch_from_server.length > 0;
    const next = new Map<number, PeerState>();
    for (const peer of answer.peers) {
      if (this.banned.has(peer.deployment_id) || peer.deployment_id === this.options.deploymentId) continue;
      const have = ChunkSet.decode(peer.have, this.chunkCount);
      if (!have) continue;
      const known = this.peers.get(peer.deployment_id);
      const outOfReachUntil = this.outOfReach.get(peer.deployment_id) ?? 0;
      next.set(peer.deployment_id, {
        ref: { deploymentId: peer.deployment_id, url: peer.url },
        have,
        inFlight: known?.ref.url === peer.url ? known.inFlight : 0,
        restUntil: Math.max(known?.restUntil ?? 0, outOfReachUntil),
        unreachableUntil: outOfReachUntil,
      });
    }
    // Peers no longer listed but with transfers in flight stay until those end (their counts must come back down).
    for (const [id, peer] of this.peers) if (!next.has(id) && peer.inFlight > 0) next.set(id, peer);
    this.peers = next;
    if (next.size > 0) this.hadPeers = true;
    this.recount();
    this.wake();
  }

  private recount(): void {
    this.holders.fill(0);
    for (const peer of this.peers.values()) peer.have.countInto(this.holders);
  }
}

/** One of the usable peers that holds the chunk, each equally likely (reservoir sampling), so load spreads across them. */
function usableHolder(usable: PeerState[], index: number): PeerState | undefined {
  let choice: PeerState | undefined;
  let seen = 0;
  for (const peer of usable) if (peer.have.has(index) && Math.random() * ++seen < 1) choice = peer;
  return choice;
}

const first = (set: ReadonlySet<number>): number => set.values().next().value!;
/** A failed transfer's cause in a few words (its error code, its HTTP status, else its words without counts). */
function reasonOf(detail: string | undefined): string {
  const text = detail ?? '';
  const code = /\b(E[A-Z]{3,}|HTTP \d{3})\b/.exec(text)?.[1];
  return code ?? (text.split(/[:(]/)[0]!.replace(/\d+/g, '#').trim().slice(0, 48) || 'unknown');
}

/**
 * The local address this device reaches the server from: where peers on the deployment network reach it too. A
 * connected UDP socket asks the routing table without sending anything.
 */
async function localAddressToward(url: URL): Promise<string> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const { address: target, family } = await lookup(host);
  const socket = createSocket(family === 6 ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(Number(url.port) || 80, target, () => resolve());
    });
    return socket.address().address;
  } finally {
    socket.close();
  }
}
const randomOf = (items: number[]): number => items[Math.floor(Math.random() * items.length)]!;

// One-to-many delivery of image delivery v2 chunks: the devices of a deployment network fetch chunks from each other
// as well as from the server, which coordinates who holds what. Shared by the server (announce route, swarm), the
// installer (its chunk server and its choice of sources) and the tests. Every chunk is checked against the
// manifest's SHA-256 whoever sent it; the server's copy stays the last resort.
import { Type, type Static } from 'typebox';
import { LIMITS, PeerRole, RowId } from './domain.js';

export { PEER_ROLES, PeerRole } from './domain.js';

/** A device serves at most this many peers at once; more get 503 and go elsewhere. */
export const PEER_MAX_UPLOADS = 3;
/** How often a device announces what it holds (the server may ask for another interval): twice a second, so new chunks are known quickly. */
export const PEER_ANNOUNCE_INTERVAL_MS = 500;
/** A member that has not announced for this long is gone: it is no longer handed out as a peer. */
export const PEER_TTL_MS = 4000;
/**
 * A new swarm (the first device, or the first announce after a restart) hands out no chunks to fetch from the server
 * until every member has had the time to announce what it holds: otherwise a restart re-sends what peers have.
 */
export const SWARM_WARMUP_MS = Math.round(PEER_ANNOUNCE_INTERVAL_MS * 1.5);
/** A chunk the server sent this recently counts as on its way into the swarm: others wait for a peer to hold it. */
export const SERVER_SEEDING_WINDOW_MS = 3000;
/** Peers handed out per announce answer, at most (200 devices: each sees a rotating sample). */
export const PEERS_PER_ANSWER = 40;
/** Default time a finished device keeps serving while others still need it (batches can set their own). */
export const DEFAULT_PEER_LINGER_S = 600;
/** Chunks handed to one device per announce answer to fetch from the server, at most. */
export const MAX_SERVER_ASSIGNMENTS = 16;
/**
 * A device that found nothing to fetch from peers for a while (PeerAnnounce.starved_for) is handed a chunk from the
 * server anyway only while the server has sent that chunk fewer times than this: peers that are merely busy must not
 * turn a crowded swarm back into unicast. Chunks nobody holds are handed out regardless (see fetch_from_server).
 */
export const MAX_SERVER_COPIES_FOR_STARVED = 2;
/** The most chunks a swarm tracks: 4 TiB of mapped data in 4 MiB chunks. */
export const MAX_SWARM_CHUNKS = 1 << 20;

/** Header carrying the swarm's key on peer requests; the server hands it out with the peer list. */
export const SWARM_KEY_HEADER = 'x-pitcrew-swarm-key';
/**
 * Header on every answer of a device's chunk server to a peer with the key: the chunks it holds now (as ChunkSet
 * text). Its cache lets chunks go as others arrive, and the asker would otherwise go on asking for them until the
 * next announce answer says so. Left out where its text would be longer than PEER_HAVE_HEADER_MAX_LENGTH (about 190 GiB mapped).
 */
export const PEER_HAVE_HEADER = 'x-pitcrew-have';
export const PEER_HAVE_HEADER_MAX_LENGTH = 8192;
/** Path of chunk `index` of image `sha256` on a device's chunk server. */
export const peerChunkPath = (imageSha256: string, index: number) => `/peer/v1/chunks/${imageSha256}/${index}`;
export const PEER_CHUNK_PATH_PATTERN = /^\/peer\/v1\/chunks\/([0-9a-f]{64})\/(\d{1,9})$/;

/** A set of chunk indices as a bitfield: chunk i is bit (0x80 >> i % 8) of byte ⌊i / 8⌋, base64. */
const ChunkSetText = Type.String({ maxLength: Math.ceil(MAX_SWARM_CHUNKS / 8 / 3) * 4, pattern: '^[A-Za-z0-9+/]*={0,2}$' });

const Optional = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]));

/** POST /api/peers/announce on the device listener: what a device holds and how it is doing, about once a second. */
export const PeerAnnounce = Type.Object(
  {
    deployment_id: RowId(),
    /** The `deployment_token` of the configuration answer (required where the deployment has one confirmed). */
    deployment_token: Optional(Type.String({ maxLength: 128 })),
    image_sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    /** Port of the device's chunk server on the address the server sees it at; null when it serves nothing. */
    port: Type.Union([Type.Integer({ minimum: 1, maximum: 65535 }), Type.Null()]),
    /** The chunks it can serve (a bitfield, see ChunkSetText). */
    have: ChunkSetText,
    role: PeerRole,
    /** How many chunks it would take from the server now (see PeerAnnounceResponse.fetch_from_server). */
    want: Type.Integer({ minimum: 0, maximum: MAX_SERVER_ASSIGNMENTS }),
    /**
     * Sent when nothing could start from peers or handed-out chunks for a while: the chunks it still needs. The server
     * may hand it one of them to fetch from it (see MAX_SERVER_COPIES_FOR_STARVED).
     */
    starved_for: Optional(ChunkSetText),
    bytes_from_peers: Type.Integer({ minimum: 0, maximum: LIMITS.bytes }),
    bytes_from_server: Type.Integer({ minimum: 0, maximum: LIMITS.bytes }),
    bytes_served: Type.Integer({ minimum: 0, maximum: LIMITS.bytes }),
    /** Peers that sent a chunk that failed its hash since the last announce. */
    bad_peers: Type.Array(
      Type.Object(
        { deployment_id: RowId(), chunk: Type.Integer({ minimum: 0, maximum: MAX_SWARM_CHUNKS }), reason: Type.String({ maxLength: 300 }) },
        { additionalProperties: false },
      ),
      { maxItems: 32 },
    ),
  },
  { additionalProperties: false },
);
export type PeerAnnounce = Static<typeof PeerAnnounce>;

export const SwarmPeer = Type.Object({
  deployment_id: Type.Integer(),
  /** Base URL of the peer's chunk server, e.g. http://10.42.0.57:41234 */
  url: Type.String(),
  have: ChunkSetText,
});
export type SwarmPeer = Static<typeof SwarmPeer>;

export const PeerAnnounceResponse = Type.Object({
  /** False: one-to-many is off for this device (its batch, or the server): fetch from the server only, serve nothing. */
  enabled: Type.Boolean(),
  /** Why it is off, in words, when it is. */
  reason: Type.Union([Type.String(), Type.Null()]),
  /** Peers send it in SWARM_KEY_HEADER; a device serves nobody else. Changes when the server restarts. */
  swarm_key: Type.String(),
  interval_ms: Type.Integer({ minimum: 100, maximum: 60_000 }),
  peers: Type.Array(SwarmPeer),
  /**
   * Other devices in the swarm that serve chunks, listed or not. With none the device is alone and the server serves
   * it at full speed; with some, an empty peer list means nobody holds a chunk yet, not that peers are out of reach.
   * Absent from servers that predate it.
   */
  serving_members: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Chunks the server sent within SERVER_SEEDING_WINDOW_MS: soon held by a peer. */
  seeding: ChunkSetText,
  /**
   * Chunks nobody holds or is fetching, that this device should fetch from the server: each is handed to one device
   * at a time, so the server sends every chunk about once and the devices pass it on.
   */
  fetch_from_server: Type.Array(Type.Integer({ minimum: 0, maximum: MAX_SWARM_CHUNKS }), { maxItems: MAX_SERVER_ASSIGNMENTS }),
  /** A finished device keeps serving while this is true, then stops and reboots. */
  linger: Type.Boolean(),
});
export type PeerAnnounceResponse = Static<typeof PeerAnnounceResponse>;

/** A set of chunk indices of a swarm, packed as its bitfield. */
export class ChunkSet {
  readonly bits: Uint8Array;
  constructor(readonly size: number, bits?: Uint8Array) {
    this.bits = bits ?? new Uint8Array(Math.ceil(size / 8));
  }
  static of(size: number, indices: Iterable<number>): ChunkSet {
    const set = new ChunkSet(size);
    for (const index of indices) set.add(index);
    return set;
  }
  /** Null when the text is not a bitfield of `size` chunks (wrong length, or bits set past the end). */
  static decode(text: string, size: number): ChunkSet | null {
    const bytes = Buffer.from(text, 'base64');
    if (bytes.length !== Math.ceil(size / 8)) return null;
    const set = new ChunkSet(size, new Uint8Array(bytes));
    const spare = bytes.length * 8 - size;
    if (spare > 0 && (bytes[bytes.length - 1]! & ((1 << spare) - 1)) !== 0) return null;
    return set;
  }
  has(index: number): boolean {
    return (this.bits[index >> 3]! & (0x80 >> (index & 7))) !== 0;
  }
  add(index: number): void {
    this.bits[index >> 3]! |= 0x80 >> (index & 7);
  }
  delete(index: number): void {
    this.bits[index >> 3]! &= ~(0x80 >> (index & 7));
  }
  /** Adds `delta` to counts[i] for every chunk i in the set: how many holders each chunk has (never below zero). */
  countInto(counts: Uint16Array, delta = 1): void {
    this.bits.forEach((byte, i) => {
      for (let b = byte, bit = 0; b; b = (b << 1) & 0xff, bit++) if (b & 0x80) counts[i * 8 + bit]! += delta;
    });
  }
  count(): number {
    let n = 0;
    for (const byte of this.bits) for (let b = byte; b; b &= b - 1) n++;
    return n;
  }
  encode(): string {
    return Buffer.from(this.bits).toString('base64');
  }
}

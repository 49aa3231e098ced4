// Domain entities as they cross every boundary: API answers, socket events, CLI output, the UI.
// Field names are snake_case because the original installer and dashboard speak that way.
import { Type, type Static } from 'typebox';
import { BlockMapKind, ImageSourceFormat } from './image-delivery.js';
import { GeneralizationReport } from './generalization.js';
import { FirstBootPreview } from './first-boot.js';

export const PRODUCT_TYPES = ['KXP2', 'RXP2'] as const;
export const ProductType = Type.Enum(PRODUCT_TYPES);
export type ProductType = (typeof PRODUCT_TYPES)[number];

export const VENUE_CODE_PATTERN = '^[A-Za-z0-9]{4}$';
export const VenueCode = Type.String({ pattern: VENUE_CODE_PATTERN, description: '4 letters or digits, case-insensitive' });

/**
 * Upper bounds for every integer that crosses an edge (requests, path and query parameters, the installer's view of
 * the server's answers), so that no value a client sends overflows SQLite's 64-bit integers or JavaScript's exact
 * integers: it is a 400 naming the field, never a 500.
 */
export const LIMITS = {
  /** Row ids: SQLite's rowids fit, and JavaScript still counts them exactly. */
  id: Number.MAX_SAFE_INTEGER,
  /** Byte counts (image sizes, progress): 1 PiB, beyond any card or image. */
  bytes: 2 ** 50,
  /** Transfer rates: 1 TB/s. */
  rateBps: 2 ** 40,
  /** Page numbers of lists: with at most 500 a page, half a billion rows. */
  page: 1_000_000,
  /** Seconds: a month. */
  seconds: 30 * 24 * 3600,
} as const;
/** A row id in a path, query or body. */
export const RowId = (options: { description?: string } = {}) => Type.Integer({ minimum: 1, maximum: LIMITS.id, ...options });

const Timestamp = Type.String({ description: 'ISO 8601, UTC' });
const NullableString = Type.Union([Type.String(), Type.Null()]);
const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);
const NullableInteger = Type.Union([Type.Integer(), Type.Null()]);

export const Venue = Type.Object({
  code: Type.String(),
  name: Type.String(),
  location: NullableString,
  contact_email: NullableString,
  created_at: Timestamp,
});
export type Venue = Static<typeof Venue>;

export const HOSTNAME_STATUSES = ['available', 'assigned', 'retired'] as const;
export type HostnameStatus = (typeof HOSTNAME_STATUSES)[number];
export const HostnameStatus = Type.Enum(HOSTNAME_STATUSES);

export const KART_NUMBER_MIN = 1;
export const KART_NUMBER_MAX = 9999;

/** One hostname a venue owns: a KXP2 kart number from the pool, or an RXP2 name derived from a serial. */
export const PoolEntry = Type.Object({
  id: Type.Integer(),
  venue_code: Type.String(),
  product_type: ProductType,
  kart_number: NullableInteger,
  hostname: Type.String(),
  status: HostnameStatus,
  mac_address: NullableString,
  serial_number: NullableString,
  batch_id: NullableInteger,
  assigned_at: NullableTimestamp,
  created_at: Timestamp,
});
export type PoolEntry = Static<typeof PoolEntry>;

export const PoolCounts = Type.Object({
  available: Type.Integer(),
  assigned: Type.Integer(),
  retired: Type.Integer(),
  total: Type.Integer(),
});
export type PoolCounts = Static<typeof PoolCounts>;

export const VenueStats = Type.Intersect([
  PoolCounts,
  Type.Object({
    /** Available kart numbers not yet promised to open KXP2 batches. */
    unreserved: Type.Integer(),
    by_product: Type.Object({ KXP2: PoolCounts, RXP2: PoolCounts }),
  }),
]);
export type VenueStats = Static<typeof VenueStats>;

export const BATCH_STATUSES = ['pending', 'active', 'paused', 'completed', 'cancelled'] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];
export const BatchStatus = Type.Enum(BATCH_STATUSES);
export const OPEN_BATCH_STATUSES: readonly BatchStatus[] = ['pending', 'active', 'paused'];
/** Finished, by its devices or an operator: nothing more happens to the batch. */
export const FINAL_BATCH_STATUSES: readonly BatchStatus[] = BATCH_STATUSES.filter((status) => !OPEN_BATCH_STATUSES.includes(status));

/**
 * A device's part in one-to-many delivery: `receiving` still fetches chunks (and serves what it holds); `serving` has
 * finished (verified, customised) and serves others until the batch no longer needs it; `done` has stopped serving.
 */
export const PEER_ROLES = ['receiving', 'serving', 'done'] as const;
export type PeerRole = (typeof PEER_ROLES)[number];
export const PeerRole = Type.Enum(PEER_ROLES);

/**
 * Where a batch's devices are. A device is one unit, counted by its latest deployment in the batch: one re-imaged
 * after a failure counts as imaging (then as its new outcome), never twice; a superseded record is not a device.
 */
function BatchDeviceCounts() {
  return Type.Object({
    /** Hostnames handed out: total_count − remaining_count. */
    handed_out_count: Type.Integer(),
    /** Devices whose latest deployment is not final yet. */
    imaging_count: Type.Integer(),
    succeeded_count: Type.Integer(),
    failed_count: Type.Integer(),
  });
}
export type BatchDeviceCounts = Static<ReturnType<typeof BatchDeviceCounts>>;

export const Batch = Type.Object({
  id: Type.Integer(),
  venue_code: Type.String(),
  product_type: ProductType,
  name: NullableString,
  notes: NullableString,
  total_count: Type.Integer(),
  remaining_count: Type.Integer(),
  priority: Type.Integer(),
  status: BatchStatus,
  created_at: Timestamp,
  started_at: NullableTimestamp,
  completed_at: NullableTimestamp,
  /** One-to-many delivery: its devices also fetch chunks from each other (on unless an operator turned it off). */
  peer_delivery: Type.Boolean(),
  /** How long a finished device of this batch may keep serving others before it reboots, seconds. */
  peer_linger_s: Type.Integer(),
  ...BatchDeviceCounts().properties,
});
export type Batch = Static<typeof Batch>;

function ImageDelivery() {
  return Type.Object({
    block_map: BlockMapKind,
    /** What the map found, partition by partition, and why anything is sent whole. */
    block_map_notes: Type.Array(Type.String()),
    /** Bytes of the disk that are written (the rest is known to be free). */
    mapped_bytes: Type.Integer(),
    /** Bytes on the wire for one device: the zstd chunks of the mapped bytes. */
    compressed_bytes: Type.Integer(),
    chunk_count: Type.Integer(),
    /** mapped ÷ raw size, 0–1. */
    mapped_ratio: Type.Number(),
    /** raw size ÷ bytes on the wire: how many times less each device costs the link than the raw image. */
    wire_ratio: Type.Number(),
  });
}

export const MasterImage = Type.Object({
  id: Type.Integer(),
  product_type: ProductType,
  version: Type.String(),
  filename: Type.String(),
  size_bytes: Type.Integer(),
  sha256: Type.String(),
  description: NullableString,
  uploaded_at: Timestamp,
  active: Type.Boolean(),
  /** What the upload was: a raw disk or a compressed one, decompressed as it streamed in. */
  source_format: ImageSourceFormat,
  /** Image delivery v2 (block map and zstd chunks); null until they are built (images from before v2). */
  delivery: Type.Union([ImageDelivery(), Type.Null()]),
  /** The installer makes each card a machine of its own (contracts/generalization.ts); on unless turned off. */
  generalize: Type.Boolean(),
  /**
   * The steps its cards will get, from inspecting the image's root filesystem when it was registered (`steps` null,
   * with the `problem`, where it could not be read); null for images registered before this existed.
   */
  generalization_preview: Type.Union([
    Type.Object({ steps: Type.Union([GeneralizationReport, Type.Null()]), problem: NullableString }),
    Type.Null(),
  ]),
  /** The first-boot mechanism its cards will use (contracts/first-boot.ts); null until the image has been inspected. */
  first_boot_preview: Type.Union([FirstBootPreview, Type.Null()]),
  /**
   * Other images with the same SHA-256: the same bytes under another version (or product) is usually a mistake — a
   * rebuild that was not rebuilt — so it is flagged, not refused.
   */
  same_content_as: Type.Array(Type.Object({ id: Type.Integer(), product_type: ProductType, version: Type.String() })),
});
export type MasterImage = Static<typeof MasterImage>;

/**
 * `superseded`: the device asked for its configuration again before finishing, and carries on under the newer
 * record. It is final for this record but neither a failure nor a result: failure counts and reports leave it out.
 */
export const DEPLOYMENT_STATUSES = ['assigned', 'downloading', 'verifying', 'customizing', 'completed', 'failed', 'superseded'] as const;
export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];
export const DeploymentStatus = Type.Enum(DEPLOYMENT_STATUSES);
export const FINAL_DEPLOYMENT_STATUSES: readonly DeploymentStatus[] = ['completed', 'failed', 'superseded'];
/** Still imaging: every status before a final one. */
export const OPEN_DEPLOYMENT_STATUSES: readonly DeploymentStatus[] = DEPLOYMENT_STATUSES.filter((status) => !FINAL_DEPLOYMENT_STATUSES.includes(status));
/** The outcomes that count in reports and completion rates; `superseded` is final but no outcome. */
export const OUTCOME_DEPLOYMENT_STATUSES = ['completed', 'failed'] as const satisfies readonly DeploymentStatus[];
export const isFinalDeploymentStatus = (status: DeploymentStatus): boolean => FINAL_DEPLOYMENT_STATUSES.includes(status);
/** Words the original Python installer sends, and what they mean here. */
export const LEGACY_STATUS_ALIASES = { starting: 'assigned', success: 'completed' } as const satisfies Record<string, DeploymentStatus>;
/** What a device may report: every state but `superseded`, which only the server decides. */
export const DEVICE_REPORTED_STATUSES = ['assigned', 'downloading', 'verifying', 'customizing', 'completed', 'failed'] as const satisfies readonly DeploymentStatus[];
export type DeviceReportedStatus = (typeof DEVICE_REPORTED_STATUSES)[number];
export const REPORTABLE_STATUSES = [...DEVICE_REPORTED_STATUSES, ...(Object.keys(LEGACY_STATUS_ALIASES) as Array<keyof typeof LEGACY_STATUS_ALIASES>)] as const;

/**
 * How a device left the "needs attention" lane (src/contracts/attention.ts): `acknowledged` (seen, nothing to do
 * here), `reimage` (it will start over on its next boot, keeping its hostname), `reimaged` (the server saw it ask
 * again, so this record is history).
 */
export const ATTENTION_RESOLUTIONS = ['acknowledged', 'reimage', 'reimaged'] as const;
export type AttentionResolution = (typeof ATTENTION_RESOLUTIONS)[number];

export const CARD_KINDS = ['sd', 'nvme', 'usb', 'other'] as const;
export type CardKind = (typeof CARD_KINDS)[number];

/**
 * The installer's capacity check, before the image is written: markers at the card's end and at power-of-two
 * offsets, read back past the cache. `wrapped`: a marker came back where another one was written (a counterfeit
 * card maps addresses beyond its real size onto lower ones); `lost`: a marker did not come back at all (writes
 * past the real size are dropped); `skipped`: no disk to check (a file or the sink).
 */
export const CAPACITY_CHECKS = ['ok', 'wrapped', 'lost', 'skipped'] as const;
export type CapacityCheck = (typeof CAPACITY_CHECKS)[number];

export const Deployment = Type.Object({
  id: Type.Integer(),
  hostname: Type.String(),
  mac_address: NullableString,
  serial_number: NullableString,
  ip_address: NullableString,
  product_type: ProductType,
  venue_code: Type.String(),
  batch_id: NullableInteger,
  image_id: NullableInteger,
  image_version: NullableString,
  image_checksum: NullableString,
  status: DeploymentStatus,
  progress: Type.Number({ minimum: 0, maximum: 100 }),
  bytes_done: Type.Integer(),
  bytes_total: Type.Integer(),
  /** Transfer rate the device last reported, bytes per second. */
  rate_bps: Type.Integer(),
  /** Seconds the device last expected to need for the rest of its current phase; null when it did not say. */
  eta_s: NullableInteger,
  message: NullableString,
  error_message: NullableString,
  /** The installer's code for the failure (src/contracts/installer-errors.ts); null from older installers and for the server's own verdicts. */
  error_code: NullableString,
  started_at: Timestamp,
  updated_at: Timestamp,
  completed_at: NullableTimestamp,
  /**
   * When the stale sweep marked the deployment failed for want of reports; kept when a late final report from the
   * device overrules it.
   */
  swept_at: NullableTimestamp,
  /** One-to-many delivery: compressed chunk bytes the device received from other devices, and from the server. */
  bytes_from_peers: Type.Integer(),
  bytes_from_server: Type.Integer(),
  /** Its part in one-to-many delivery; null when it took no part (v1 installers, delivery from the server alone). */
  delivery_role: Type.Union([PeerRole, Type.Null()]),
  /**
   * When someone took the device off the "needs attention" lane (src/contracts/attention.ts), how, and who: null
   * while nobody has. A failure stays on the lane until then.
   */
  attention_resolved_at: NullableTimestamp,
  attention_resolution: Type.Union([Type.Enum(ATTENTION_RESOLUTIONS), Type.Null()]),
  attention_resolved_by: NullableString,
  /** The card written (src/contracts/card-health.ts): null until the installer reported it (and for older ones). */
  card_kind: Type.Union([Type.Enum(CARD_KINDS), Type.Null()]),
  card_manufacturer: NullableString,
  card_name: NullableString,
  card_serial: NullableString,
  card_cid: NullableString,
  card_size_bytes: NullableInteger,
  card_capacity_check: Type.Union([Type.Enum(CAPACITY_CHECKS), Type.Null()]),
  /** The card's measured write and read-back rates, bytes per second. */
  card_write_bps: NullableInteger,
  card_read_bps: NullableInteger,
  /** The fleet's median write rate when this card's came in; null with too few samples. */
  fleet_median_write_bps: NullableInteger,
  /** An operator's Identify: asked for when and how long; delivered with a status answer when. */
  identify_requested_at: NullableTimestamp,
  identify_seconds: NullableInteger,
  identify_delivered_at: NullableTimestamp,
  /**
   * First boot (src/contracts/checkin.ts): by when the written system must have checked in, set when an installer
   * that added the check-in reports completion (null otherwise: nothing will check in); when it did boot (the
   * server's clock, less the uptime it reported); and when it was found not booted past the deadline.
   */
  checkin_due_at: NullableTimestamp,
  booted_at: NullableTimestamp,
  not_booted_at: NullableTimestamp,
});
export type Deployment = Static<typeof Deployment>;

export const Stats = Type.Object({
  active_deployments: Type.Integer(),
  completed_today: Type.Integer(),
  failed_today: Type.Integer(),
  /** Devices currently holding a hostname. */
  total_devices: Type.Integer(),
});
export type Stats = Static<typeof Stats>;

export const ROLES = ['admin', 'operator', 'viewer'] as const;
export type Role = (typeof ROLES)[number];
export const Role = Type.Enum(ROLES);

export const User = Type.Object({
  id: Type.Integer(),
  username: Type.String(),
  role: Role,
  created_at: Timestamp,
});
export type User = Static<typeof User>;

export const ApiToken = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  user_id: Type.Integer(),
  username: Type.String(),
  /** First characters of the token, so a person can tell tokens apart; the secret itself is shown once. */
  prefix: Type.String(),
  created_at: Timestamp,
  last_used_at: NullableTimestamp,
});
export type ApiToken = Static<typeof ApiToken>;

export const AuditEntry = Type.Object({
  id: Type.Integer(),
  at: Timestamp,
  actor: Type.String(),
  action: Type.String(),
  target: NullableString,
  details: NullableString,
});
export type AuditEntry = Static<typeof AuditEntry>;

// Management API request and answer shapes, shared by the server (validation), the web app and the CLI.
import { Type, type Static } from 'typebox';
import {
  LIMITS, RowId, KART_NUMBER_MAX, KART_NUMBER_MIN, ApiToken, AuditEntry, Batch, BatchStatus, Deployment, DeploymentStatus, HostnameStatus, MasterImage, PoolEntry,
  ProductType, Role, Stats, User, Venue, VenueCode, VenueStats,
} from './domain.js';
import { GeneralizationReport } from './generalization.js';
import { BOOT_STATES } from './checkin.js';
import { OPERATOR_RESOLUTIONS } from './attention.js';

const Strict = { additionalProperties: false } as const;
const OptionalNullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]));

export const Page = Type.Object({
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.page, default: 1 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
});
export const Paged = <T extends Parameters<typeof Type.Array>[0]>(item: T) =>
  Type.Object({ items: Type.Array(item), total: Type.Integer(), page: Type.Integer(), limit: Type.Integer() });
export interface PagedResult<T> { items: T[]; total: number; page: number; limit: number }

export const SuccessResponse = Type.Object({ success: Type.Literal(true) });

// ── Auth ──────────────────────────────────────────────────────────────────────────────────────────────
export const LoginRequest = Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 1024 }) }, Strict);
export type LoginRequest = Static<typeof LoginRequest>;
export const MeResponse = Type.Object({ user: User });
export type MeResponse = Static<typeof MeResponse>;

// ── Venues ────────────────────────────────────────────────────────────────────────────────────────────
export const VenueCreate = Type.Object(
  {
    code: VenueCode,
    name: Type.String({ minLength: 1, maxLength: 100 }),
    location: OptionalNullable(Type.String({ maxLength: 200 })),
    contact_email: OptionalNullable(Type.String({ maxLength: 254 })),
  },
  Strict,
);
export type VenueCreate = Static<typeof VenueCreate>;
export const VenueUpdate = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    location: OptionalNullable(Type.String({ maxLength: 200 })),
    contact_email: OptionalNullable(Type.String({ maxLength: 254 })),
  },
  Strict,
);
export type VenueUpdate = Static<typeof VenueUpdate>;
export const VenueList = Type.Object({ venues: Type.Array(Venue) });
export const VenueResponse = Type.Object({ success: Type.Literal(true), venue: Venue, venue_code: Type.String() });
export const VenueStatsResponse = VenueStats;

// ── Hostname pool ─────────────────────────────────────────────────────────────────────────────────────
export const KartNumberImport = Type.Object(
  {
    venue_code: VenueCode,
    /** A list of numbers, or text with ranges and separators: "1-20, 25, 30-32" or one per line. */
    numbers: Type.Union([Type.Array(Type.Union([Type.Integer({ minimum: KART_NUMBER_MIN, maximum: KART_NUMBER_MAX }), Type.String({ maxLength: 32 })]), { maxItems: 10000 }), Type.String({ maxLength: 100_000 })]),
    product_type: Type.Optional(Type.Literal('KXP2')),
  },
  Strict,
);
export type KartNumberImport = Static<typeof KartNumberImport>;
export const KartNumberImportResult = Type.Object({ success: Type.Literal(true), added: Type.Integer(), duplicates: Type.Integer(), message: Type.String() });
export type KartNumberImportResult = Static<typeof KartNumberImportResult>;
export const PoolQuery = Type.Intersect([
  Page,
  Type.Object({ venue: Type.Optional(VenueCode), product: Type.Optional(ProductType), status: Type.Optional(HostnameStatus), search: Type.Optional(Type.String({ maxLength: 64 })) }),
]);
export type PoolQuery = Static<typeof PoolQuery>;
export const PoolList = Paged(PoolEntry);

export const HostnameAssignRequest = Type.Object(
  {
    product_type: ProductType,
    venue_code: VenueCode,
    mac_address: OptionalNullable(Type.String({ pattern: '^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$' })),
    serial_number: OptionalNullable(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9]+$' })),
  },
  Strict,
);
export type HostnameAssignRequest = Static<typeof HostnameAssignRequest>;
export const HostnameAssignResponse = Type.Object({ success: Type.Literal(true), hostname: Type.String(), entry: PoolEntry, reused: Type.Boolean() });
export const HostnameReleaseRequest = Type.Object({ hostname: Type.String({ minLength: 1, maxLength: 64 }) }, Strict);
export const PoolEntryResponse = Type.Object({ success: Type.Literal(true), entry: PoolEntry });

// ── Batches ───────────────────────────────────────────────────────────────────────────────────────────
const PeerDeliverySettings = {
  /** One-to-many delivery for the batch's devices (default on). */
  peer_delivery: Type.Optional(Type.Boolean()),
  /** How long a finished device keeps serving others at most, seconds (default 600; 0: reboot at once). */
  peer_linger_s: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400 })),
};
export const BatchCreate = Type.Object(
  {
    venue_code: VenueCode,
    product_type: ProductType,
    total_count: Type.Integer({ minimum: 1, maximum: 100_000 }),
    priority: Type.Optional(Type.Integer({ minimum: -1_000_000, maximum: 1_000_000 })),
    name: OptionalNullable(Type.String({ maxLength: 100 })),
    notes: OptionalNullable(Type.String({ maxLength: 2000 })),
    ...PeerDeliverySettings,
  },
  Strict,
);
export type BatchCreate = Static<typeof BatchCreate>;
/** PUT /api/batches/:id/peer-delivery: either field or both. */
export const BatchPeerDeliveryUpdate = Type.Object(PeerDeliverySettings, { ...Strict, minProperties: 1 });
export type BatchPeerDeliveryUpdate = Static<typeof BatchPeerDeliveryUpdate>;
export const BatchQuery = Type.Object({ venue: Type.Optional(VenueCode), status: Type.Optional(BatchStatus) });
export type BatchQuery = Static<typeof BatchQuery>;
export const BatchList = Type.Object({ batches: Type.Array(Batch) });
export const BatchResponse = Type.Object({ success: Type.Literal(true), batch: Batch });
export const ActiveBatchResponse = Type.Object({ batch: Type.Union([Batch, Type.Null()]) });
export const BatchPriorityUpdate = Type.Object({ priority: Type.Integer({ minimum: -1_000_000, maximum: 1_000_000 }) }, Strict);
/** Batch ids from highest to lowest priority; priorities are renumbered to keep that order. */
export const BatchReorder = Type.Object({ ids: Type.Array(RowId(), { minItems: 1, maxItems: 1000 }) }, Strict);
export type BatchReorder = Static<typeof BatchReorder>;
export const BatchCapacityQuery = Type.Object({ venue: VenueCode, product: ProductType });
export const BatchCapacity = Type.Object({ venue_code: Type.String(), product_type: ProductType, available: Type.Integer(), reserved: Type.Integer(), unreserved: Type.Integer(), needs_pool: Type.Boolean() });
export type BatchCapacity = Static<typeof BatchCapacity>;

// ── Images ────────────────────────────────────────────────────────────────────────────────────────────
export const ImageUploadFields = Type.Object({
  product_type: ProductType,
  version: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._+-]*$' }),
  description: Type.Optional(Type.String({ maxLength: 2000 })),
});
export type ImageUploadFields = Static<typeof ImageUploadFields>;
export const ImageList = Type.Object({ images: Type.Array(MasterImage) });
/** What an operator may change on a registered image; the file and its identity never change. */
export const ImageUpdate = Type.Object(
  {
    description: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()])),
    generalize: Type.Optional(Type.Boolean()),
  },
  { ...Strict, minProperties: 1 },
);
export type ImageUpdate = Static<typeof ImageUpdate>;
/**
 * The generalisation steps of an image as its newest generalised deployment reported them (the server does not
 * inspect images itself): which ran on that card and which were skipped, and why.
 */
export const ImageGeneralizationReport = Type.Object({
  deployment_id: Type.Integer(),
  hostname: Type.String(),
  reported_at: Type.String(),
  steps: GeneralizationReport,
});
export type ImageGeneralizationReport = Static<typeof ImageGeneralizationReport>;
export const ImageDetail = Type.Object({ image: MasterImage, generalization: Type.Union([ImageGeneralizationReport, Type.Null()]) });
export const ImageResponse = Type.Object({ success: Type.Literal(true), image: MasterImage, checksum: Type.String(), filename: Type.String() });

// ── Deployments ───────────────────────────────────────────────────────────────────────────────────────
export const DeploymentQuery = Type.Intersect([
  Page,
  Type.Object({
    venue: Type.Optional(VenueCode),
    status: Type.Optional(DeploymentStatus),
    product: Type.Optional(ProductType),
    batch: Type.Optional(RowId()),
    from: Type.Optional(Type.String({ format: 'date', description: 'YYYY-MM-DD, inclusive' })),
    to: Type.Optional(Type.String({ format: 'date', description: 'YYYY-MM-DD, inclusive' })),
    search: Type.Optional(Type.String({ maxLength: 64, description: 'hostname, serial or MAC, partial' })),
    boot: Type.Optional(Type.Enum(BOOT_STATES, { description: 'written vs booted (src/contracts/checkin.ts): booted, awaiting (its check-in deadline ahead), not-booted (past it), no-checkin (an installer that added none)' })),
    attention: Type.Optional(Type.Boolean({ description: 'only devices needing a hand: unresolved failures, stalled ones, written cards not booted by their check-in deadline and cards written although the capacity check proved them counterfeit (src/contracts/attention.ts)' })),
    format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')])),
  }),
]);
export type DeploymentQuery = Static<typeof DeploymentQuery>;
export const DeploymentList = Paged(Deployment);
/** Taking a device off the "needs attention" lane: `reimage` also says it will start over on its next boot. */
export const AttentionResolve = Type.Object({ resolution: Type.Enum(OPERATOR_RESOLUTIONS) }, Strict);
export type AttentionResolve = Static<typeof AttentionResolve>;
export const DeploymentResponse = Type.Object({ success: Type.Literal(true), deployment: Deployment });
export const StatsResponse = Stats;

export const Report = Type.Object({
  from: Type.String(),
  to: Type.String(),
  total: Type.Integer(),
  completed: Type.Integer(),
  failed: Type.Integer(),
  completion_rate: Type.Number({ description: 'completed / (completed + failed), 0..1' }),
  average_duration_s: Type.Union([Type.Number(), Type.Null()]),
  per_venue: Type.Array(Type.Object({ venue_code: Type.String(), completed: Type.Integer(), failed: Type.Integer(), average_duration_s: Type.Union([Type.Number(), Type.Null()]) })),
  per_day: Type.Array(Type.Object({ day: Type.String(), completed: Type.Integer(), failed: Type.Integer() })),
});
export type Report = Static<typeof Report>;
export const ReportQuery = Type.Object({
  from: Type.Optional(Type.String({ format: 'date', description: 'YYYY-MM-DD, inclusive; default 29 days before `to`' })),
  to: Type.Optional(Type.String({ format: 'date', description: 'YYYY-MM-DD, inclusive; default today' })),
  venue: Type.Optional(VenueCode),
  product: Type.Optional(ProductType),
});
export type ReportQuery = Static<typeof ReportQuery>;

// ── Users, tokens, audit ──────────────────────────────────────────────────────────────────────────────
export const USERNAME_PATTERN = '^[a-zA-Z0-9_.-]{1,64}$';
export const UserCreate = Type.Object({ username: Type.String({ pattern: USERNAME_PATTERN }), password: Type.String({ minLength: 8, maxLength: 1024 }), role: Role }, Strict);
export type UserCreate = Static<typeof UserCreate>;
export const UserUpdate = Type.Object({ password: Type.Optional(Type.String({ minLength: 8, maxLength: 1024 })), role: Type.Optional(Role) }, Strict);
export type UserUpdate = Static<typeof UserUpdate>;
export const UserList = Type.Object({ users: Type.Array(User) });
export const UserResponse = Type.Object({ success: Type.Literal(true), user: User });
export const TokenCreate = Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }), username: Type.Optional(Type.String({ pattern: USERNAME_PATTERN })) }, Strict);
export type TokenCreate = Static<typeof TokenCreate>;
export const TokenCreated = Type.Object({ success: Type.Literal(true), token: ApiToken, secret: Type.String({ description: 'shown once' }) });
export const TokenList = Type.Object({ tokens: Type.Array(ApiToken) });
export const AuditList = Paged(AuditEntry);

// ── System ────────────────────────────────────────────────────────────────────────────────────────────
export const SystemStatus = Type.Object({
  status: Type.Literal('ok'),
  version: Type.String(),
  node_version: Type.String(),
  sqlite_version: Type.String(),
  uptime_s: Type.Number(),
  started_at: Type.String(),
  data_dir: Type.String(),
  disk: Type.Object({ total_bytes: Type.Integer(), free_bytes: Type.Integer(), images_bytes: Type.Integer() }),
  /** The largest image an upload may carry (PITCREW_MAX_IMAGE_BYTES). */
  max_image_bytes: Type.Integer(),
  connected_clients: Type.Integer(),
  active_downloads: Type.Integer(),
  device_url: Type.Union([Type.String(), Type.Null()]),
  /** The device listener's port: with the dashboard's host name, the address boards on the same network use. */
  device_port: Type.Integer(),
  /** The installer stick (GET /api/netboot/usb-image): buildable once the network boot folder is prepared. */
  usb_stick: Type.Object({
    available: Type.Boolean(),
    /** The server the prepared folder's cmdline.txt names: the stick's default. */
    server_url: Type.Union([Type.String(), Type.Null()]),
  }),
  /** Supervised dnsmasq, when the server runs one (network boot). */
  netboot: Type.Union([
    Type.Null(),
    Type.Object({ state: Type.String(), pid: Type.Union([Type.Integer(), Type.Null()]), restarts: Type.Integer(), recent: Type.Array(Type.String()) }),
  ]),
});
export type SystemStatus = Static<typeof SystemStatus>;

/** GET /api/netboot/usb-image: the stick names this device listener (default: the prepared folder's). */
export const UsbImageQuery = Type.Object({
  server_url: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Device listener as the boards reach it, e.g. http://192.168.1.10:5001' })),
});
export type UsbImageQuery = Static<typeof UsbImageQuery>;
